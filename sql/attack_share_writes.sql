-- attack_share_writes: writes the tracking must not miss (issue 12, item 3), as attacks by three
-- login roles. An owner sets up two schemas holding a table of the same name; a writer's TRUNCATE
-- or COPY fires a trigger that changes search_path during the statement; a reader's shared
-- result of the table it did not write must be recomputed. Before the fix the relation was
-- looked up by name again after the statement and the write was counted for the other schema's
-- table: the reader got its old rows back from the shared entry. Each query shows, beside the
-- rows, what the whole-result node did, and that its rows equal a run without the extension.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
\i sql/include/node_plan.psql
\i sql/include/query_rows.psql

CREATE ROLE asw_owner LOGIN;
CREATE ROLE asw_writer LOGIN;
CREATE ROLE asw_reader LOGIN;
CREATE SCHEMA asw_a AUTHORIZATION asw_owner;
CREATE SCHEMA asw_b AUTHORIZATION asw_owner;
SET ROLE asw_owner;
CREATE TABLE asw_a.t (x int);
CREATE TABLE asw_b.t (x int);
CREATE TABLE asw_a.c (x int);
CREATE TABLE asw_b.c (x int);
INSERT INTO asw_a.t SELECT generate_series(1, 10);
INSERT INTO asw_b.t SELECT generate_series(1, 5);
INSERT INTO asw_a.c SELECT generate_series(1, 10);
INSERT INTO asw_b.c SELECT generate_series(1, 5);
-- The trigger points the session at the other schema, for good (not local to the statement).
CREATE FUNCTION asw_a.switch_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('search_path', 'asw_b, public', false);
  RETURN CASE WHEN TG_LEVEL = 'ROW' THEN NEW END;
END $$;
CREATE TRIGGER switch BEFORE TRUNCATE ON asw_a.t
  FOR EACH STATEMENT EXECUTE FUNCTION asw_a.switch_path();
CREATE TRIGGER switch BEFORE INSERT ON asw_a.c
  FOR EACH ROW EXECUTE FUNCTION asw_a.switch_path();
GRANT USAGE ON SCHEMA asw_a, asw_b TO asw_writer, asw_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA asw_a, asw_b TO asw_reader;
GRANT SELECT, INSERT, TRUNCATE ON ALL TABLES IN SCHEMA asw_a, asw_b TO asw_writer;
RESET ROLE;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('asw_a.t'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- ---- TRUNCATE: a BEFORE TRUNCATE trigger changes search_path ----
\set qt 'SELECT count(*) AS n, sum(x) AS s FROM asw_a.t'
SET ROLE asw_reader;
:qt;
-- The second run is served from the shared entry: the attack below has something to go stale.
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qt');
RESET ROLE;
SET ROLE asw_writer;
SET search_path = asw_a, public;
TRUNCATE t;
SHOW search_path;
RESET search_path;
RESET ROLE;
SET ROLE asw_reader;
-- The first run after the write computes a new result (before the fix: "hit", the old entry).
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qt');
-- Stock: the table is empty. Before the fix: 10 rows from the shared entry.
:qt;
SELECT pm_query_rows(:'qt', true) = pm_query_rows(:'qt', false) AS same_rows;
SELECT count(*) AS other_schema_untouched FROM asw_b.t;
RESET ROLE;

-- ---- COPY FROM: a BEFORE INSERT row trigger changes search_path ----
\set qc 'SELECT count(*) AS n, sum(x) AS s FROM asw_a.c'
SET ROLE asw_reader;
:qc;
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qc');
RESET ROLE;
SET ROLE asw_writer;
SET search_path = asw_a, public;
COPY c FROM STDIN;
100
200
\.
SHOW search_path;
RESET search_path;
RESET ROLE;
SET ROLE asw_reader;
-- The first run after the write computes a new result (before the fix: "hit", the old entry).
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qc');
-- Stock: 12 rows. Before the fix: 10 rows from the shared entry.
:qc;
SELECT pm_query_rows(:'qc', true) = pm_query_rows(:'qc', false) AS same_rows;
SELECT count(*) AS other_schema_untouched FROM asw_b.c;
RESET ROLE;

-- ---- TRUNCATE ... CASCADE reaches tables the statement does not name ----
SET ROLE asw_owner;
CREATE TABLE asw_a.p (id int PRIMARY KEY);
CREATE TABLE asw_a.f (id int REFERENCES asw_a.p);
INSERT INTO asw_a.p SELECT generate_series(1, 4);
INSERT INTO asw_a.f SELECT generate_series(1, 4);
GRANT SELECT ON asw_a.f TO asw_reader;
RESET ROLE;
\set qf 'SELECT count(*) AS n FROM asw_a.f'
SET ROLE asw_reader;
:qf;
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qf');
RESET ROLE;
SET ROLE asw_owner;
TRUNCATE asw_a.p CASCADE;
RESET ROLE;
SET ROLE asw_reader;
:qf;
SELECT pm_query_rows(:'qf', true) = pm_query_rows(:'qf', false) AS same_rows;
RESET ROLE;

-- ---- utility statements that change data or plans: CTAS, SELECT INTO, REFRESH, ALTER ----
SET ROLE asw_owner;
CREATE MATERIALIZED VIEW asw_a.mv AS SELECT x FROM asw_a.c;
GRANT SELECT ON asw_a.mv TO asw_reader;
RESET ROLE;
\set qm 'SELECT count(*) AS n, sum(x) AS s FROM asw_a.mv'
SET ROLE asw_reader;
:qm;
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qm');
RESET ROLE;
SET ROLE asw_owner;
INSERT INTO asw_a.c VALUES (1000);
REFRESH MATERIALIZED VIEW asw_a.mv;
RESET ROLE;
SET ROLE asw_reader;
:qm;
SELECT pm_query_rows(:'qm', true) = pm_query_rows(:'qm', false) AS same_rows;
RESET ROLE;
SET ROLE asw_owner;
CREATE UNIQUE INDEX ON asw_a.mv (x);
INSERT INTO asw_a.c VALUES (2000);
REFRESH MATERIALIZED VIEW CONCURRENTLY asw_a.mv;
RESET ROLE;
SET ROLE asw_reader;
:qm;
SELECT pm_query_rows(:'qm', true) = pm_query_rows(:'qm', false) AS same_rows;
RESET ROLE;
-- SELECT * changes with a new column that has a default (no row is written).
\set qa 'SELECT * FROM asw_a.c ORDER BY x LIMIT 2'
SET ROLE asw_reader;
:qa;
SELECT node->>'Cross-Session Sharing' AS sharing FROM pm_node_plan(:'qa');
RESET ROLE;
ALTER TABLE asw_a.c ADD COLUMN y int DEFAULT 7;
SET ROLE asw_reader;
:qa;
SELECT pm_query_rows(:'qa', true) = pm_query_rows(:'qa', false) AS same_rows;
RESET ROLE;

RESET ROLE;
DROP SCHEMA asw_a, asw_b CASCADE;
DROP ROLE asw_owner, asw_writer, asw_reader;
