SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- attack_arr_surface: a hostile LOGIN role against the arrangement SQL surface (issue 16).
-- The maintenance trigger function attached to the attacker's own (TEMP) table, statement-level,
-- after TRUNCATE, with another owner's definition id; the internal functions called directly;
-- an operator and a function planted in a schema on a superuser's search_path, which the
-- extension's event-trigger functions and arrangement_check must never run; tids and live
-- counts shown to roles that may not read the table. err() returns "SQLSTATE: message".
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END $$;
CREATE ROLE arr_victim LOGIN;
CREATE ROLE arr_attacker LOGIN;
-- the precondition of the planting attack: the attacker may create objects in a schema that is
-- on the superuser's search_path (public, as before PostgreSQL 15, or granted)
GRANT USAGE, CREATE ON SCHEMA public TO arr_victim, arr_attacker;

SET SESSION AUTHORIZATION arr_victim;
CREATE TABLE victim_t (k int, v text);
INSERT INTO victim_t SELECT g, 'v' || g FROM generate_series(1, 10) g;
SELECT parallel_material.create_arrangement('victim_t', '{k}');
GRANT SELECT ON victim_t TO arr_attacker;            -- the attacker may read it, not write it
CREATE TABLE victim_secret (k int, v text);          -- the attacker may not even read this one
SELECT parallel_material.create_arrangement('victim_secret', '{k}');
CREATE TABLE victim_cols (k int, v text);            -- column privileges only (no ctid)
INSERT INTO victim_cols VALUES (1, 'c1');
SELECT parallel_material.create_arrangement('victim_cols', '{k}');
GRANT SELECT (k, v) ON victim_cols TO arr_attacker;
RESET SESSION AUTHORIZATION;
SELECT defid AS victim_defid FROM parallel_material.arrangement_defs
 WHERE relid OPERATOR(pg_catalog.=) 'victim_t'::regclass::oid \gset

-- 1. planting: an operator oid = regclass and a format(text, regclass, text, text[]) in public,
-- exact matches for what the extension's plpgsql functions call unqualified; each records who
-- ran it. A superuser's DROP (event trigger) and arrangement_check must not run them.
SET SESSION AUTHORIZATION arr_attacker;
CREATE TABLE public.attack_log (who text, what text);
GRANT INSERT ON public.attack_log TO PUBLIC;
CREATE FUNCTION public.planted_eq(oid, regclass) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.attack_log VALUES (current_user, 'operator oid = regclass');
    RETURN $1 OPERATOR(pg_catalog.=) $2::oid;
END $$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.planted_eq);
CREATE FUNCTION public.format(text, regclass, text, text[]) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.attack_log VALUES (current_user, 'format');
    RETURN pg_catalog.format($1, $2, $3, $4);
END $$;
RESET SESSION AUTHORIZATION;
\c
SHOW search_path;
CREATE TABLE su_scratch (k int);
ALTER TABLE su_scratch ADD COLUMN j int;
ALTER TABLE su_scratch DROP COLUMN j;
DROP TABLE su_scratch;                                -- the sql_drop event triggers fire
SELECT * FROM parallel_material.arrangement_check('victim_t');
SELECT who, what FROM public.attack_log ORDER BY 1, 2;   -- nothing ran
DROP OPERATOR public.= (oid, regclass);
DROP FUNCTION public.planted_eq(oid, regclass), public.format(text, regclass, text, text[]);
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END $$;

-- 2. the maintenance trigger on the attacker's own TEMP table with the victim's definition id:
-- refused (the function is not executable by PUBLIC)
SET SESSION AUTHORIZATION arr_attacker;
CREATE TEMP TABLE mine (k int, v text);
SELECT pg_temp.err(format($$CREATE TRIGGER t_row AFTER INSERT OR UPDATE OR DELETE ON mine
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$, :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO mine VALUES (3, 'forged')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION arr_victim;
SELECT * FROM parallel_material.arrangement_check('victim_t');
SELECT row_text FROM parallel_material.arrangement_probe('victim_t', '{3}') ORDER BY 1;
RESET SESSION AUTHORIZATION;

-- 3. even with EXECUTE granted by mistake, the function checks its context in C: the trigger
-- must be create_arrangement's, on the arrangement's own table, AFTER, FOR EACH ROW for
-- INSERT/UPDATE/DELETE or FOR EACH STATEMENT for TRUNCATE; otherwise it fails, never crashes
-- (on the unchecked function: the victim's arrangement invalidated, truncated, then a crash)
CREATE FUNCTION pg_temp.vstate() RETURNS text LANGUAGE sql AS $$
    SELECT state FROM parallel_material.arrangements
     WHERE relation OPERATOR(pg_catalog.=) 'victim_t'::regclass$$;
GRANT EXECUTE ON FUNCTION parallel_material._arrangement_trigger() TO arr_attacker;
SET SESSION AUTHORIZATION arr_attacker;
DROP TRIGGER IF EXISTS t_row ON mine;
SELECT pg_temp.vstate();
SELECT pg_temp.err(format($$CREATE TRIGGER t_row AFTER INSERT OR UPDATE OR DELETE ON mine
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$, :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO mine VALUES (3, 'forged')$$);
SELECT pg_temp.vstate();
DROP TRIGGER t_row ON mine;
-- named like the victim's own trigger
SELECT pg_temp.err(format($$CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON mine
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    'pm_arrangement_' || :'victim_defid', :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO mine VALUES (4, 'forged')$$);
SELECT pg_temp.err($$DELETE FROM mine$$);
SELECT pg_temp.err(format($$DROP TRIGGER %I ON mine$$, 'pm_arrangement_' || :'victim_defid'));
SELECT pg_temp.vstate();
-- no argument, a malformed one
SELECT pg_temp.err($$CREATE TRIGGER t_noarg AFTER INSERT ON mine
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger()$$);
SELECT pg_temp.err($$INSERT INTO mine VALUES (6, 'noarg')$$);
SELECT pg_temp.err($$DROP TRIGGER t_noarg ON mine$$);
SELECT pg_temp.err($$CREATE TRIGGER t_bad AFTER INSERT ON mine
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger('12abc')$$);
SELECT pg_temp.err($$INSERT INTO mine VALUES (7, 'bad')$$);
SELECT pg_temp.err($$DROP TRIGGER t_bad ON mine$$);
-- after TRUNCATE on the attacker's table, then statement-level: the unchecked function takes
-- the attacker's table for the victim's (truncating its arrangement), then reads a missing row
SELECT count(*) FROM parallel_material.arrangement_rows('victim_t');   -- rebuilt if need be
SELECT pg_temp.vstate();
SELECT pg_temp.err(format($$CREATE TRIGGER t_trunc AFTER TRUNCATE ON mine
    FOR EACH STATEMENT EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    :'victim_defid'));
SELECT pg_temp.err(format($$CREATE TRIGGER t_stmt AFTER INSERT OR DELETE ON mine
    FOR EACH STATEMENT EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    :'victim_defid'));
SELECT pg_temp.err($$TRUNCATE mine$$);
SELECT pg_temp.vstate();
SELECT pg_temp.err($$INSERT INTO mine VALUES (5, 'stmt')$$);
SELECT pg_temp.err($$DELETE FROM mine$$);
SELECT pg_temp.err($$DROP TRIGGER t_stmt ON mine$$);
SELECT pg_temp.err($$DROP TRIGGER t_trunc ON mine$$);
SELECT pg_temp.vstate();
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION parallel_material._arrangement_trigger() FROM arr_attacker;
-- the owner's own misuse on its own table: a second trigger (deltas twice), a BEFORE trigger, a
-- WHEN clause, a statement-level one
GRANT EXECUTE ON FUNCTION parallel_material._arrangement_trigger() TO arr_victim;
SET SESSION AUTHORIZATION arr_victim;
SELECT pg_temp.err(format($$CREATE TRIGGER dup AFTER INSERT ON victim_t
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$, :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO victim_t VALUES (11, 'twice?')$$);
SELECT pg_temp.err($$DROP TRIGGER dup ON victim_t$$);
SELECT pg_temp.err(format($$CREATE TRIGGER bef BEFORE INSERT ON victim_t
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$, :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO victim_t VALUES (12, 'before')$$);
SELECT pg_temp.err($$DROP TRIGGER bef ON victim_t$$);
SELECT pg_temp.err(format($$CREATE TRIGGER stmt AFTER INSERT ON victim_t
    FOR EACH STATEMENT EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO victim_t VALUES (13, 'stmt')$$);
SELECT pg_temp.err($$DROP TRIGGER stmt ON victim_t$$);
-- the real trigger re-created with a WHEN clause: it fails rather than skip rows
SELECT pg_temp.err(format($$DROP TRIGGER %I ON victim_t$$, 'pm_arrangement_' || :'victim_defid'));
SELECT pg_temp.err(format($$CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON victim_t
    FOR EACH ROW WHEN (pg_catalog.pg_backend_pid() < 0) EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    'pm_arrangement_' || :'victim_defid', :'victim_defid'));
SELECT pg_temp.err($$INSERT INTO victim_t VALUES (14, 'when')$$);
SELECT pg_temp.err($$SELECT row_text FROM parallel_material.arrangement_probe('victim_t', '{14}')$$);
DELETE FROM victim_t WHERE k = 14;
SELECT pg_temp.err(format($$DROP TRIGGER %I ON victim_t$$, 'pm_arrangement_' || :'victim_defid'));
SELECT pg_temp.err(format($$CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON victim_t
    FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger(%L)$$,
    'pm_arrangement_' || :'victim_defid', :'victim_defid'));
SELECT pg_temp.err(format($$ALTER TABLE victim_t ENABLE ALWAYS TRIGGER %I$$,
    'pm_arrangement_' || :'victim_defid'));
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION parallel_material._arrangement_trigger() FROM arr_victim;
-- the victim's arrangement is intact: exact, ready, no forged row
SET SESSION AUTHORIZATION arr_victim;
SELECT * FROM parallel_material.arrangement_check('victim_t');
-- live_versions counts aborted inserts until they are reclaimed (the background worker does it
-- within arrangement_reclaim_interval): reclaim now, so the count does not depend on timing
SELECT parallel_material.arrangement_reclaim('victim_t') >= 0 AS reclaimed;
SELECT state, live_versions FROM parallel_material.arrangements
 WHERE relation OPERATOR(pg_catalog.=) 'victim_t'::regclass;
SELECT row_text FROM parallel_material.arrangement_probe('victim_t', '{3}') ORDER BY 1;
RESET SESSION AUTHORIZATION;

-- 4. the internal functions called directly: not executable by PUBLIC
SET SESSION AUTHORIZATION arr_attacker;
SELECT pg_temp.err(format($$SELECT parallel_material._arrangement_forget(%s)$$,
    'victim_t'::regclass::oid));
SELECT pg_temp.err(format($$SELECT parallel_material._arrangement_column_dropped(%s, 1, 'k')$$,
    'victim_t'::regclass::oid));
SELECT pg_temp.err($$SELECT parallel_material._arrangement_altered(NULL)$$);
SELECT pg_temp.err($$SELECT parallel_material._arrangement_age_for_test('victim_t', NULL, 'clog')$$);
SELECT pg_temp.err($$SELECT parallel_material._arrangement_on_sql_drop()$$);
SELECT pg_temp.err($$SELECT parallel_material._arrangement_trigger()$$);
RESET SESSION AUTHORIZATION;
SELECT relation, key, state FROM parallel_material.arrangements ORDER BY 1::text;

-- 5. small leaks: tids to a role with column privileges only (stock refuses SELECT ctid), and
-- live/dead counts of a table the reader may not read (they include uncommitted rows)
SET SESSION AUTHORIZATION arr_attacker;
SELECT pg_temp.err($$SELECT ctid FROM victim_cols$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('victim_cols', '{1}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_rows('victim_cols')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_check('victim_cols')$$);
RESET SESSION AUTHORIZATION;
BEGIN;
SET LOCAL SESSION AUTHORIZATION arr_victim;
INSERT INTO victim_secret SELECT g, 'uncommitted' FROM generate_series(1, 7) g;
SET LOCAL SESSION AUTHORIZATION arr_attacker;
SELECT relation, live_versions, dead_versions, deltas_applied
  FROM parallel_material.arrangements ORDER BY 1::text;
SELECT s.live_versions, s.deltas_applied
  FROM parallel_material._arrangement_state() s
  JOIN parallel_material.arrangement_defs d ON d.defid OPERATOR(pg_catalog.=) s.defid
 WHERE d.relid OPERATOR(pg_catalog.=) 'victim_secret'::regclass::oid;
SET LOCAL SESSION AUTHORIZATION arr_victim;
SELECT relation, live_versions, dead_versions, deltas_applied
  FROM parallel_material.arrangements ORDER BY 1::text;
-- members of pg_read_all_stats see them all
RESET SESSION AUTHORIZATION;
GRANT pg_read_all_stats TO arr_attacker;
SET LOCAL SESSION AUTHORIZATION arr_attacker;
SELECT relation, live_versions, dead_versions, deltas_applied
  FROM parallel_material.arrangements ORDER BY 1::text;
ROLLBACK;

-- 6. the owner's own DDL still reaches the revoked helpers (through the event-trigger functions)
SET SESSION AUTHORIZATION arr_victim;
CREATE TABLE victim_ddl (k int, v varchar(5), w text);
INSERT INTO victim_ddl VALUES (1, 'a', 'x');
SELECT parallel_material.create_arrangement('victim_ddl', '{k}', '{v}');
SELECT parallel_material.create_arrangement('victim_ddl', '{w}', '{k}');
ALTER TABLE victim_ddl ALTER COLUMN v TYPE varchar(10);         -- invalidates {k}
SELECT key, state FROM parallel_material.arrangements
 WHERE relation OPERATOR(pg_catalog.=) 'victim_ddl'::regclass ORDER BY key;
ALTER TABLE victim_ddl DROP COLUMN v;                           -- drops {k}
SELECT key, state FROM parallel_material.arrangements
 WHERE relation OPERATOR(pg_catalog.=) 'victim_ddl'::regclass ORDER BY key;
SELECT count(*) FROM parallel_material.arrangement_check('victim_ddl');
-- a renamed maintenance trigger is no longer create_arrangement's: writes fail (never a silent
-- stale arrangement), and drop_arrangement removes it under its new name
SELECT 'pm_arrangement_' || defid AS wtrg FROM parallel_material.arrangement_defs
 WHERE relid OPERATOR(pg_catalog.=) 'victim_ddl'::regclass::oid \gset
ALTER TRIGGER :"wtrg" ON victim_ddl RENAME TO renamed;
SELECT pg_temp.err($$INSERT INTO victim_ddl VALUES (2, 'y')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_rows('victim_ddl')$$);
SELECT parallel_material.drop_arrangement('victim_ddl');
SELECT count(*) AS triggers_left FROM pg_trigger
 WHERE tgrelid OPERATOR(pg_catalog.=) 'victim_ddl'::regclass::oid;
INSERT INTO victim_ddl VALUES (2, 'y');
SELECT parallel_material.create_arrangement('victim_ddl', '{w}', '{k}');
DROP TABLE victim_ddl;                                          -- forgets {w}
SELECT count(*) FROM parallel_material.arrangement_defs;
RESET SESSION AUTHORIZATION;

DROP TABLE public.attack_log, pg_temp.mine;
DROP TABLE victim_t, victim_secret, victim_cols;
REVOKE ALL ON SCHEMA public FROM arr_victim, arr_attacker;
DROP ROLE arr_victim;
DROP ROLE arr_attacker;
