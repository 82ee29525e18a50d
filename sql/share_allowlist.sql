-- share_allowlist: the allowlist behind the cross-session sharing verdict (issue 12, item 1) and
-- the settings digest of the registry key (item 2). A subtree is shared only when every
-- function, operator, type, column, index and expression node it uses is on the list; the
-- verdict names what is not. The digest moves with every setting that can change a result's
-- rows or bytes, and not with settings proven irrelevant (docs/shared-results.md).
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;

CREATE TABLE al_t (id int, grp int, n text, ts timestamptz, f float8);
INSERT INTO al_t SELECT g, g % 4, 'n' || g, '2024-01-01'::timestamptz + g * interval '1 hour', g / 7.0
  FROM generate_series(1, 200) g;
ANALYZE al_t;
CREATE FUNCTION al_v(q text) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(verdict, '; ') FROM parallel_material.share_verdicts(q) $$;

-- Built-in immutable functions and operators: eligible.
SELECT al_v('SELECT grp, sum(f), max(upper(n)), count(DISTINCT id % 3) FROM al_t GROUP BY grp ORDER BY grp');
-- ... also through the support functions of grouping sets, merge joins, hashed subplans and
-- WITH TIES (their operators' comparison and hash functions are built-in).
SELECT al_v('SELECT grp, n, count(*) FROM al_t GROUP BY ROLLUP (grp), CUBE (n) ORDER BY 1, 2');
SET enable_hashjoin = off;
SET enable_nestloop = off;
SELECT al_v('SELECT a.id, b.n FROM al_t a JOIN al_t b ON a.id = b.grp ORDER BY 1, 2');
RESET enable_hashjoin;
RESET enable_nestloop;
SELECT al_v('SELECT id FROM al_t WHERE id NOT IN (SELECT grp FROM al_t) ORDER BY id');
SELECT al_v('SELECT id FROM al_t ORDER BY grp FETCH FIRST 3 ROWS WITH TIES');
-- A user-defined function, even IMMUTABLE (it could lie): not shared.
CREATE FUNCTION al_double(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$;
CREATE FUNCTION al_plpgsql(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN $1; END $$;
SELECT al_v('SELECT al_plpgsql(id) FROM al_t ORDER BY 1');
SELECT al_v('SELECT id FROM al_t WHERE al_plpgsql(grp) = 1 ORDER BY id');
-- A user-defined operator.
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
SELECT al_v('SELECT id FROM al_t WHERE grp === 1 ORDER BY id');
-- Stable and volatile functions, also reached through casts (I/O functions) and SQL value
-- functions.
SELECT al_v('SELECT id, ts::text FROM al_t ORDER BY id');
SELECT al_v('SELECT id FROM al_t WHERE n::regclass IS NULL ORDER BY id');
SELECT al_v('SELECT id, current_date FROM al_t ORDER BY id');
SELECT al_v('SELECT id, to_tsvector(''simple'', n) FROM al_t ORDER BY id');
SELECT al_v('SELECT id, xmlforest(n) FROM al_t ORDER BY id');
-- Domains: one with a CHECK constraint (its expression could call anything) is not shared in a
-- cast; one without constraints is.
CREATE DOMAIN al_pos AS int CHECK (VALUE > 0);
CREATE DOMAIN al_plain AS int;
SELECT al_v('SELECT id::al_pos FROM al_t ORDER BY 1');
SELECT al_v('SELECT id::al_plain FROM al_t ORDER BY 1');
-- Window frames with offsets: the in_range support function must be allowed (the timestamptz
-- one is stable: TimeZone).
SELECT al_v('SELECT id, sum(f) OVER (ORDER BY id RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) FROM al_t');
SELECT al_v('SELECT id, sum(f) OVER (ORDER BY ts RANGE BETWEEN ''2 hours'' PRECEDING AND CURRENT ROW) FROM al_t');
-- An index with a user function in its expression: what the index stores came from it.
CREATE INDEX al_expr ON al_t (al_double(id));
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT al_v('SELECT id FROM al_t WHERE al_double(id) < 20 ORDER BY id');
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX al_expr;
-- Types: an enum and a named composite are readable by any backend; an anonymous record is not.
CREATE TYPE al_color AS ENUM ('red', 'green');
SELECT al_v('SELECT id, CASE WHEN grp = 0 THEN ''red''::al_color ELSE ''green'' END FROM al_t ORDER BY id');
SELECT al_v('SELECT t FROM al_t t ORDER BY id');
SELECT al_v('SELECT ROW(id, n) FROM al_t ORDER BY id');
SELECT al_v('SELECT grp, array_agg(ROW(id, n)) FROM al_t GROUP BY grp ORDER BY grp');
-- A generic plan's parameter: its value is not in the key.
PREPARE al_p(int) AS SELECT id FROM al_t WHERE grp = $1 ORDER BY id;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE al_p(1);
RESET plan_cache_mode;
DEALLOCATE al_p;

-- ---- the settings digest ----
-- pm_digest_moves(setting, value): does setting it (for the transaction) change the digest?
CREATE FUNCTION pm_digest_moves(setting text, value text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE d0 text := parallel_material.share_settings_digest();
BEGIN
  PERFORM set_config(setting, value, true);
  RETURN parallel_material.share_settings_digest() <> d0;
END $$;
CREATE ROLE al_other;
-- In the key: each moves the digest.
SELECT s AS setting, parallel_material.share_setting_in_key(s) AS in_key, pm_digest_moves(s, v) AS moves
  FROM (VALUES ('extra_float_digits', '0'), ('bytea_output', 'escape'), ('DateStyle', 'German'),
               ('IntervalStyle', 'sql_standard'), ('TimeZone', 'Asia/Tokyo'),
               ('timezone_abbreviations', 'Australia'), ('xmlbinary', 'hex'),
               ('xmloption', 'document'), ('quote_all_identifiers', 'on'),
               ('standard_conforming_strings', 'off'), ('lc_monetary', 'POSIX'),
               ('lc_numeric', 'POSIX'), ('lc_time', 'POSIX'), ('lc_messages', 'POSIX'),
               ('search_path', 'pg_catalog'), ('default_text_search_config', 'pg_catalog.danish'),
               ('array_nulls', 'off'), ('backslash_quote', 'on'), ('transform_null_equals', 'on'),
               ('row_security', 'off'), ('session_replication_role', 'replica'),
               ('gin_fuzzy_search_limit', '10'), ('synchronize_seqscans', 'off'),
               ('lo_compat_privileges', 'on'), ('zero_damaged_pages', 'on'),
               ('restrict_nonsystem_relation_kind', 'view'))
       AS v(s, v)
 ORDER BY 1;
-- Irrelevant: the digest stays (so these sessions still share).
SELECT s AS setting, parallel_material.share_setting_in_key(s) AS in_key, pm_digest_moves(s, v) AS moves
  FROM (VALUES ('work_mem', '77MB'), ('hash_mem_multiplier', '3'), ('statement_timeout', '1h'),
               ('lock_timeout', '1h'), ('application_name', 'other'),
               ('client_min_messages', 'error'), ('client_encoding', 'LATIN1'),
               ('escape_string_warning', 'off'), ('enable_hashjoin', 'off'),
               ('random_page_cost', '9'), ('jit', 'off'), ('plan_cache_mode', 'force_generic_plan'),
               ('default_transaction_isolation', 'serializable'), ('role', 'al_other'),
               ('vacuum_freeze_min_age', '1000'), ('temp_tablespaces', ''),
               ('parallel_material.share_max_bytes', '1MB'), ('jit_expressions', 'off'),
               ('exit_on_error', 'on'))
       AS v(s, v)
 ORDER BY 1;
-- Setting a value back restores the digest (the cache compares values, not changes).
DO $$
DECLARE d0 text := parallel_material.share_settings_digest(); d1 text; d2 text;
  orig text := current_setting('extra_float_digits');
BEGIN
  PERFORM set_config('extra_float_digits', '0', true);
  d1 := parallel_material.share_settings_digest();
  PERFORM set_config('extra_float_digits', orig, true);
  d2 := parallel_material.share_settings_digest();
  RAISE WARNING 'changed: %, restored: %', d1 <> d0, d2 = d0;
END $$;

-- The registry key's fingerprint mixes the plan fingerprint with the digest: the same plan gets
-- another key under other output settings.
\i sql/include/attack_share.psql
SELECT pm_wait_tracking('al_t');
\set qk 'SELECT grp, count(*) FROM al_t GROUP BY grp ORDER BY grp'
SELECT fingerprint AS k1 FROM parallel_material.share_keys(:'qk') \gset
SET extra_float_digits = 0;
SELECT fingerprint AS k2 FROM parallel_material.share_keys(:'qk') \gset
SELECT fingerprint AS k3 FROM parallel_material.share_keys(:'qk') \gset
RESET extra_float_digits;
SELECT :'k1' <> :'k2' AS key_moves, :'k2' = :'k3' AS key_stable,
       (SELECT fingerprint FROM parallel_material.share_verdicts(:'qk')) NOT IN (:'k1', :'k2') AS not_plan_fp;
DROP FUNCTION pm_site(text);
DROP FUNCTION pm_wait_tracking(regclass);
DROP FUNCTION pm_digest_moves(text, text);
DROP ROLE al_other;
DROP TABLE al_t;
DROP FUNCTION al_v(text);
DROP FUNCTION al_double(int);
DROP FUNCTION al_plpgsql(int);
DROP OPERATOR === (int, int);
DROP DOMAIN al_pos;
DROP DOMAIN al_plain;
DROP TYPE al_color;
