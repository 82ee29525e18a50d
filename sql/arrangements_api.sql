SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_api: create_arrangement / drop_arrangement, the arrangements view, and every error
-- with its SQLSTATE (err() runs a statement and returns "SQLSTATE: message").
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE arr_api (id int, k int, name text, price numeric, pos point, d date);
INSERT INTO arr_api SELECT g, g % 7, 'n' || g, g * 1.5, point(g, g), date '2024-01-01' + g
  FROM generate_series(1, 50) g;

-- a working arrangement, as the view shows it
SELECT parallel_material.create_arrangement('arr_api', '{k}', '{name}');
SELECT relation, key, columns, state, live_versions, dead_versions, bytes > 0 AS has_bytes,
       deltas_applied, last_reclaim IS NULL AS never_reclaimed
  FROM parallel_material.arrangements;
-- two keys on one table: each its own arrangement
SELECT parallel_material.create_arrangement('arr_api', ARRAY['d', 'id']);
SELECT relation, key, columns, state, live_versions FROM parallel_material.arrangements ORDER BY key;
SELECT regexp_replace(tgname, '[0-9]+', 'N') AS tgname, tgenabled, tgargs <> '' AS has_defid
  FROM pg_trigger WHERE tgrelid = 'arr_api'::regclass ORDER BY tgname;

-- errors
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('no_such_table', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{nope}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{id}', '{k, nope}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{pos}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{price}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{ctid}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{id, NULL}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{id, id}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_api', NULL)$$);

CREATE VIEW arr_view AS SELECT * FROM arr_api;
CREATE MATERIALIZED VIEW arr_matview AS SELECT * FROM arr_api;
CREATE TABLE arr_parted (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE arr_part1 PARTITION OF arr_parted FOR VALUES FROM (0) TO (100);
CREATE FOREIGN DATA WRAPPER arr_fdw;
CREATE SERVER arr_server FOREIGN DATA WRAPPER arr_fdw;
CREATE FOREIGN TABLE arr_foreign (id int, k int) SERVER arr_server;
CREATE TEMPORARY TABLE arr_temp (id int, k int);
CREATE TABLE arr_rls (id int, k int);
ALTER TABLE arr_rls ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_view', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_matview', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_parted', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_foreign', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_temp', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_rls', '{k}')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('pg_class', '{oid}')$$);
-- a partition is an ordinary table
SELECT parallel_material.create_arrangement('arr_part1', '{k}');
INSERT INTO arr_parted VALUES (1, 1), (2, 1);
SELECT * FROM parallel_material.arrangement_probe('arr_part1', '{1}') ORDER BY 1;

-- ownership and privileges
CREATE ROLE arr_other;
GRANT USAGE ON SCHEMA public TO arr_other;
SET ROLE arr_other;
SELECT pg_temp.err($$SELECT parallel_material.create_arrangement('arr_rls', '{id}')$$);
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('arr_api', '{k}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1}', '{k}')$$);
RESET ROLE;
GRANT SELECT (k, name) ON arr_api TO arr_other;
SET ROLE arr_other;
-- reading through an arrangement returns tids: column privileges, even on every arranged column
-- (k, name), are not enough, as they are not for SELECT ctid; SELECT on the table is
SELECT pg_temp.err($$SELECT ctid FROM arr_api$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1}', '{k}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{2024-01-02,1}', '{d,id}')$$);
RESET ROLE;
REVOKE SELECT (k, name) ON arr_api FROM arr_other;
GRANT SELECT ON arr_api TO arr_other;
SET ROLE arr_other;
SELECT count(*) FROM parallel_material.arrangement_probe('arr_api', '{1}', '{k}');
RESET ROLE;
-- row-level security enabled after creation: reading through the arrangement is refused to roles
-- it applies to (never bypassed), allowed to those it does not apply to (the owner here)
ALTER TABLE arr_api ENABLE ROW LEVEL SECURITY;
CREATE POLICY arr_pol ON arr_api FOR SELECT USING (id < 10);
SET ROLE arr_other;
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1}', '{k}')$$);
RESET ROLE;
SELECT count(*) FROM parallel_material.arrangement_probe('arr_api', '{1}', '{k}');
DROP POLICY arr_pol ON arr_api;
ALTER TABLE arr_api DISABLE ROW LEVEL SECURITY;

-- probe arguments
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1,2}', '{k}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{x}', '{k}')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_probe('arr_api', '{1}', '{name}')$$);
SELECT count(*) FROM parallel_material.arrangement_probe('arr_api', '{NULL}', '{k}');

-- disabled maintenance triggers are detected; writes missed meanwhile show in arrangement_check
SELECT 'pm_arrangement_' || defid AS trg FROM parallel_material.arrangement_defs
 WHERE relid = 'arr_api'::regclass AND key_attnums = '{2}' \gset
ALTER TABLE arr_api DISABLE TRIGGER :"trg";
INSERT INTO arr_api (id, k, name) VALUES (100, 1, 'missed');
SELECT pg_temp.err($$SELECT * FROM parallel_material.arrangement_check('arr_api', '{k}')$$);
ALTER TABLE arr_api ENABLE ALWAYS TRIGGER :"trg";
SELECT * FROM parallel_material.arrangement_check('arr_api', '{k}');

-- drop
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('arr_api')$$);
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('arr_api', '{name}')$$);
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('arr_view')$$);
SELECT parallel_material.drop_arrangement('arr_api', '{k}');
SELECT relation, key FROM parallel_material.arrangements ORDER BY 1, 2;
SELECT regexp_replace(tgname, '[0-9]+', 'N') AS tgname FROM pg_trigger
 WHERE tgrelid = 'arr_api'::regclass ORDER BY tgname;
-- a drop rolled back keeps the arrangement working
BEGIN;
SELECT parallel_material.drop_arrangement('arr_api', '{d,id}');
ROLLBACK;
SELECT relation, key, state FROM parallel_material.arrangements ORDER BY 1, 2;
SELECT count(*) FROM parallel_material.arrangement_probe('arr_api', '{2024-01-02,1}', '{d,id}');
-- a create rolled back leaves nothing behind
BEGIN;
SELECT parallel_material.create_arrangement('arr_api', '{name}');
SELECT relation, key, state FROM parallel_material.arrangements ORDER BY 1, 2;
ROLLBACK;
SELECT relation, key, state FROM parallel_material.arrangements ORDER BY 1, 2;
SELECT count(*) AS entries FROM parallel_material._arrangement_state();
-- as does one in a savepoint rolled back
BEGIN;
SAVEPOINT s;
SELECT parallel_material.create_arrangement('arr_api', '{name}');
ROLLBACK TO s;
SELECT count(*) AS entries FROM parallel_material._arrangement_state();
COMMIT;
-- PREPARE TRANSACTION after creating one is refused
BEGIN;
SELECT parallel_material.create_arrangement('arr_api', '{name}');
PREPARE TRANSACTION 'arr_prep';
SELECT relation, key FROM parallel_material.arrangements ORDER BY 1, 2;
-- DROP TABLE drops its arrangements
DROP VIEW arr_view;
DROP MATERIALIZED VIEW arr_matview;
DROP TABLE arr_api;
DROP TABLE arr_parted;
SELECT count(*) AS defs FROM parallel_material.arrangement_defs;
SELECT count(*) AS entries FROM parallel_material._arrangement_state();

DROP FOREIGN TABLE arr_foreign;
DROP SERVER arr_server;
DROP FOREIGN DATA WRAPPER arr_fdw;
DROP TABLE arr_rls, arr_temp;
REVOKE USAGE ON SCHEMA public FROM arr_other;
DROP ROLE arr_other;
