SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- attack_arr_functions: every SQL function of the extension, called by a non-superuser LOGIN role
-- with hostile arguments (NULLs, invalid OIDs, every kind of relation that is not an ordinary
-- table, another role's table, empty / NULL-holding / multi-dimensional / huge arrays, unknown,
-- system and duplicate columns, very long text). Only clean errors: the backend never crashes
-- (the postmaster start time is unchanged at the end, so no crash restarted the cluster).
-- err() returns "SQLSTATE: message", digits masked (OIDs and sizes vary).
SELECT pg_postmaster_start_time() AS started \gset
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || left(regexp_replace(SQLERRM, '[0-9]+', 'N', 'g'), 110);
END $$;
CREATE ROLE arr_fuzz LOGIN;
CREATE ROLE arr_fuzz_owner LOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO arr_fuzz, arr_fuzz_owner;
-- objects of every kind (the foreign ones need a superuser)
CREATE FOREIGN DATA WRAPPER fz_fdw;
CREATE SERVER fz_server FOREIGN DATA WRAPPER fz_fdw;
CREATE FOREIGN TABLE fz_foreign (k int) SERVER fz_server;
ALTER FOREIGN TABLE fz_foreign OWNER TO arr_fuzz;
SET SESSION AUTHORIZATION arr_fuzz_owner;
CREATE TABLE fz_other (k int, v text);
INSERT INTO fz_other SELECT g, 'o' || g FROM generate_series(1, 20) g;
SELECT parallel_material.create_arrangement('fz_other', '{k}');
CREATE TABLE fz_other_readable (k int, v text);
INSERT INTO fz_other_readable VALUES (1, 'r');
SELECT parallel_material.create_arrangement('fz_other_readable', '{k}');
GRANT SELECT ON fz_other_readable TO arr_fuzz;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION arr_fuzz;
CREATE TABLE fz_own (k int, v text, d date);
INSERT INTO fz_own SELECT g, repeat('v', g), date '2024-01-01' + g FROM generate_series(1, 20) g;
ALTER TABLE fz_own DROP COLUMN d;
SELECT parallel_material.create_arrangement('fz_own', '{k}');
CREATE VIEW fz_view AS SELECT * FROM fz_own;
CREATE MATERIALIZED VIEW fz_matview AS SELECT * FROM fz_own;
CREATE SEQUENCE fz_seq;
CREATE INDEX fz_idx ON fz_own (k);
CREATE TABLE fz_parted (k int) PARTITION BY RANGE (k);
CREATE TABLE fz_part1 PARTITION OF fz_parted FOR VALUES FROM (0) TO (100);
CREATE TYPE fz_type AS (a int);
CREATE TEMP TABLE fz_temp (k int);
CREATE UNLOGGED TABLE fz_unlogged (k int);
SELECT reltoastrelid AS toast FROM pg_class WHERE oid = 'fz_own'::regclass \gset

-- relations: every function that takes one, with every kind of relation
CREATE TEMP TABLE rels (n serial, r text);
INSERT INTO rels (r) VALUES ('NULL'), ('0'), ('4294967295'), ('''fz_view'''), ('''fz_matview'''),
    ('''fz_seq'''), ('''fz_idx'''), (:'toast'), ('''fz_parted'''), ('''fz_type'''),
    ('''fz_temp'''), ('''fz_unlogged'''), ('''fz_foreign'''), ('''pg_class'''),
    ('''pg_toast.pg_toast_1255'''), ('''parallel_material.arrangement_defs'''),
    ('''fz_other'''), ('''fz_other_readable'''), ('''fz_part1''');
CREATE TEMP TABLE fns (n serial, f text);
INSERT INTO fns (f) VALUES
    ('SELECT parallel_material.create_arrangement(%s, ''{k}'')'),
    ('SELECT parallel_material.drop_arrangement(%s)'),
    ('SELECT parallel_material.drop_arrangement(%s, ''{k}'')'),
    ('SELECT * FROM parallel_material.arrangement_probe(%s, ''{1}'')'),
    ('SELECT * FROM parallel_material.arrangement_rows(%s)'),
    ('SELECT * FROM parallel_material.arrangement_check(%s)'),
    ('SELECT parallel_material.arrangement_reclaim(%s)'),
    ('SELECT parallel_material.data_version(%s)'),
    ('SELECT parallel_material.data_version_info(%s)');
CREATE TEMP TABLE calls (n serial, call text);
INSERT INTO calls (call)
SELECT format(f, CASE WHEN r ~ '^[0-9]+$' THEN r || '::oid::regclass' ELSE r || '::regclass' END)
  FROM fns, rels ORDER BY fns.n, rels.n;
-- keys, include lists and probe values on the role's own arranged table
INSERT INTO calls (call) VALUES
    ($$SELECT parallel_material.create_arrangement('fz_own', NULL)$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{NULL}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{{k}}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '[0:0]={v}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{""}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{k,k}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{k,v,k,v,k,v,k,v,k}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{nope}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{ctid}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{tableoid}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{........pg.dropped.3........}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', ARRAY[repeat('k', 100000)])$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', array_fill('k'::text, ARRAY[100000]))$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{v}', '{}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{v}', '{NULL}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{v}', '{xmin}')$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{v}', array_fill('k'::text, ARRAY[100000]))$$),
    ($$SELECT parallel_material.create_arrangement('fz_own', '{v}', '{k,k,v,v}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', NULL)$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{NULL}', '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{{1}}', '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{1,2}', '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{x}', '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{99999999999}', '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', ARRAY[repeat('v', 100000)], '{v}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', array_fill('1'::text, ARRAY[100000]), '{k}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{1}', '{}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{1}', '{NULL}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{1}', '{ctid}')$$),
    ($$SELECT * FROM parallel_material.arrangement_probe('fz_own', '{1}', array_fill('k'::text, ARRAY[100000]))$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_rows('fz_own', '{v}')$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_rows('fz_own', '{k,v}')$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_check('fz_own', '{v}')$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_check('fz_own', '{nope}')$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_check('fz_own', '{NULL}')$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_check('fz_own', '{}')$$),
    ($$SELECT parallel_material.arrangement_reclaim('fz_own', '{}')$$),
    ($$SELECT parallel_material.arrangement_reclaim('fz_own', '{v}')$$),
    ($$SELECT parallel_material.drop_arrangement('fz_own', '{}')$$),
    ($$SELECT parallel_material.drop_arrangement('fz_own', '{NULL}')$$),
    ($$SELECT parallel_material.drop_arrangement('fz_own', '{v}')$$),
    ($$SELECT parallel_material.drop_arrangement('fz_own', '{v}')$$),
    -- internal and superuser-only functions
    ($$SELECT count(*) FROM parallel_material._arrangement_state()$$),
    ($$SELECT parallel_material._arrangement_forget(0)$$),                 -- 0: every table
    ($$SELECT parallel_material._arrangement_forget('fz_other'::regclass)$$),
    ($$SELECT parallel_material._arrangement_column_dropped('fz_other'::regclass, 1, 'k')$$),
    ($$SELECT parallel_material._arrangement_column_dropped(0, -5, repeat('x', 100000))$$),
    ($$SELECT parallel_material._arrangement_altered(NULL)$$),
    ($$SELECT parallel_material._arrangement_age_for_test('fz_own', NULL, 'clog')$$),
    ($$SELECT parallel_material._arrangement_trigger()$$),
    ($$SELECT parallel_material._arrangement_on_sql_drop()$$),
    ($$SELECT parallel_material._arrangement_on_column_drop()$$),
    ($$SELECT parallel_material._arrangement_on_alter()$$),
    ($$SELECT parallel_material.debug_boundary('segv')$$),
    ($$SELECT parallel_material.debug_set_committer('fz_own', '1', true)$$),
    ($$SELECT parallel_material.debug_add_shared_result(1, 1000000000)$$),
    ($$SELECT parallel_material.reset_data_versions()$$),
    ($$SELECT parallel_material.reset_shared_results()$$),
    -- the rest of the surface
    ($$SELECT parallel_material.version() IS NOT NULL$$),
    ($$SELECT count(*) FROM parallel_material.stats()$$),
    ($$SELECT count(*) FROM parallel_material.shared_results()$$),
    ($$SELECT count(*) FROM parallel_material.share_verdicts(NULL)$$),
    ($$SELECT count(*) FROM parallel_material.share_verdicts('')$$),
    ($$SELECT count(*) FROM parallel_material.share_verdicts('SELECT 1; SELECT 2')$$),
    ($$SELECT count(*) FROM parallel_material.share_verdicts('SELECT * FROM fz_other')$$),
    ($$SELECT count(*) FROM parallel_material.share_verdicts(repeat('(', 100000))$$),
    ($$SELECT count(*) FROM parallel_material.share_keys(NULL)$$),
    ($$SELECT count(*) FROM parallel_material.share_keys('VACUUM')$$),
    ($$SELECT count(*) FROM parallel_material.share_keys('SELECT * FROM fz_other')$$),
    ($$SELECT count(*) FROM parallel_material.share_keys('SELECT ' || repeat('1+', 50000) || '1')$$),
    ($$SELECT count(*) > 0 FROM parallel_material.arrangements$$),
    ($$SELECT count(*) FROM parallel_material.arrangement_build_progress$$),
    ($$SELECT count(*) FROM parallel_material.shared_results$$),
    ($$SELECT count(*) FROM parallel_material.stats$$);
SELECT n, regexp_replace(call, '[0-9]{5,}', 'N', 'g') AS call, pg_temp.err(call) AS result
  FROM calls ORDER BY n;
DROP TABLE calls, fns, rels;

-- nothing of another role's changed; the role's own arrangement still exact
RESET SESSION AUTHORIZATION;
SELECT relation, key, state FROM parallel_material.arrangements ORDER BY relation::text, key;
SELECT count(*) FROM parallel_material.arrangement_check('fz_other');
SELECT count(*) FROM parallel_material.arrangement_check('fz_own');
-- the server never restarted
SELECT pg_postmaster_start_time() = :'started' AS same_postmaster;

DROP TABLE fz_own, fz_parted, fz_unlogged, fz_temp, fz_other, fz_other_readable CASCADE;
DROP SEQUENCE fz_seq;
DROP TYPE fz_type;
DROP FOREIGN TABLE fz_foreign;
DROP SERVER fz_server;
DROP FOREIGN DATA WRAPPER fz_fdw;
REVOKE ALL ON SCHEMA public FROM arr_fuzz, arr_fuzz_owner;
DROP ROLE arr_fuzz;
DROP ROLE arr_fuzz_owner;
