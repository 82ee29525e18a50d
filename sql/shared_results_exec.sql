-- shared_results_exec: a serial ParallelMaterial node shares its result across sessions
-- (issue 6). The first run produces the shared entry, an identical run with the same data
-- versions hits it (its child does not run), a committed write changes the key (recompute), the
-- writer's own transaction bypasses, and every skip says why in EXPLAIN ANALYZE
-- ("Cross-Session Sharing: produced | attached | hit | skipped (reason)"). Results are compared
-- with a run without the extension.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
-- Materialize nodes only here (sql/shared_sites.sql covers whole results, CTEs, InitPlans).
SET parallel_material.share_whole_results = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE TABLE sx_a (id int, grp int);
CREATE TABLE sx_b (id int, grp int, pad text);
INSERT INTO sx_a SELECT g, g % 5 FROM generate_series(1, 40) g;
INSERT INTO sx_b SELECT g, g % 5, 'p' || g FROM generate_series(1, 60) g;
ANALYZE sx_a, sx_b;
-- (Right after a reset of the data versions nothing is shared while older transactions run.)
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sx_b'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- What the ParallelMaterial node did: its Cross-Session Sharing line, the rows its child
-- produced, the rows it returned, and how many times its child ran.
\i sql/include/node_plan.psql
CREATE FUNCTION sx_node(q text, OUT sharing text, OUT rows_produced int, OUT rows_read int,
                        OUT child_loops int, OUT child_scans text)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  SELECT p.plan, p.node INTO plan, node FROM pm_node_plan(q) p;
  sharing := node->>'Cross-Session Sharing';
  rows_produced := (node->>'Rows Produced')::int;
  rows_read := (node->>'Rows Read')::int;
  child_loops := (node->'Plans'->0->>'Actual Loops')::int;
  child_scans := node->'Plans'->0->>'Relation Name';
END $$;

-- pm_query_rows(q, ext): the query's rows (hashed in a fixed order) with the extension on or off.
\i sql/include/query_rows.psql

\set q 'SELECT a.id, b.id FROM sx_a a JOIN sx_b b ON a.grp = b.grp AND a.id < b.id WHERE b.grp < 3'
-- First run: produces; the second identical run hits (its child never runs).
SELECT * FROM sx_node(:'q');
SELECT * FROM sx_node(:'q');
SELECT rows, hits, readers, state, relations = ARRAY['sx_b'::regclass::oid] AS rel_b
  FROM parallel_material.shared_results;
-- The rows a hit returns are the rows of a run without the extension (the query wrapped in
-- sx_rows has its own fingerprint: its first run produces, its second hits).
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_produced;
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_hit;
SELECT count(*) AS entries, sum(hits) AS hits FROM parallel_material.shared_results;
SELECT * FROM sx_node(:'q');

-- A committed write of the relation changes the key: the next run recomputes, with the new rows.
INSERT INTO sx_b VALUES (1000, 1, 'new');
SELECT * FROM sx_node(:'q');
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_after_write;
SELECT count(*) AS entries, sum(hits) AS hits FROM parallel_material.shared_results WHERE state = 'ready';
-- A write of a relation outside the shared subtree keeps the key: a hit.
INSERT INTO sx_a VALUES (1000, 1);
SELECT * FROM sx_node(:'q');

-- The writer's own uncommitted changes bypass sharing (and are seen by its own query).
BEGIN;
INSERT INTO sx_b VALUES (1001, 1, 'mine');
SELECT sharing FROM sx_node(:'q');
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_in_writer;
ROLLBACK;
-- ... also after a savepoint rollback: the written relation bypasses until the transaction ends.
BEGIN;
SAVEPOINT s;
INSERT INTO sx_b VALUES (1002, 1, 'undone');
ROLLBACK TO SAVEPOINT s;
SELECT sharing FROM sx_node(:'q');
COMMIT;

-- SERIALIZABLE readers skip (they would need their scan's predicate locks).
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT sharing FROM sx_node(:'q');
COMMIT;

-- Not shareable subtrees say why.
SELECT sharing FROM sx_node('SELECT a.id, b.id FROM sx_a a JOIN sx_b b ON a.id < b.id WHERE b.id < random() * 1000');
CREATE TABLE sx_rls AS SELECT * FROM sx_b;
ALTER TABLE sx_rls ENABLE ROW LEVEL SECURITY;
ANALYZE sx_rls;
SELECT sharing, child_scans FROM sx_node('SELECT a.id, r.id FROM sx_a a JOIN sx_rls r ON a.grp = r.grp AND a.id < r.id WHERE r.grp < 3');
-- Sharing switched off at execution (the plan was made with it on): skipped.
PREPARE sx_p AS SELECT a.id, b.id FROM sx_a a JOIN sx_b b ON a.grp = b.grp AND a.id < b.id WHERE b.grp < 3;
SET plan_cache_mode = force_generic_plan;
SET parallel_material.share_across_sessions = off;
CREATE FUNCTION sx_prepared(OUT sharing text) LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) EXECUTE sx_p INTO plan;
  SELECT value->>'Cross-Session Sharing' INTO sharing FROM jsonb_path_query(plan, 'strict $.**') AS value
   WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial';
END $$;
SELECT * FROM sx_prepared();
SET parallel_material.share_across_sessions = on;
RESET plan_cache_mode;
DEALLOCATE sx_p;

-- A result larger than parallel_material.share_max_bytes (the planner underestimates it, so the
-- verdict lets it through) is abandoned by its producer, which goes on locally with every row.
-- (An uncorrelated ALL SubPlan: 20000 rows of 200 bytes estimated as 100 rows, 4.6 MB of log
-- against 1 MB. A result larger than its ring but within share_max_bytes spills and is shared:
-- sql/shared_results_spill.sql.)
CREATE TABLE sx_o (id int, pad text);
INSERT INTO sx_o VALUES (1, ''), (2, ''), (3, '');
CREATE TABLE sx_big (id int, grp int, pad text);
INSERT INTO sx_big SELECT g, g % 2, repeat('x', 200) FROM generate_series(1, 20000) g;
ANALYZE sx_o, sx_big;
\set qbig 'SELECT o.id FROM sx_o o WHERE o.pad < ALL (SELECT b.pad FROM sx_big b WHERE b.id % 3 = b.id % 3 + 0)'
SET parallel_material.share_max_bytes = '1MB';
SELECT * FROM sx_node(:'qbig');
SELECT pm_query_rows(:'qbig', true) = pm_query_rows(:'qbig', false) AS same_rows_big;
-- Its entries stay, marked too large, holding no memory (later runs skip at once).
SELECT count(*) AS big_entries, sum(bytes) AS bytes, min(state) AS state
  FROM parallel_material.shared_results WHERE relations = ARRAY['sx_big'::regclass::oid];
RESET parallel_material.share_max_bytes;

-- A node whose child would be scanned with producer workers (parallel_material.max_producers)
-- starts none when its run is shared: one producer streams the rows to the other sessions
-- (sql/shared_results_parallel.sql checks the worker counts).
CREATE TABLE sx_pw AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 40000) g;
ANALYZE sx_pw;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 1e9;
SET min_parallel_table_scan_size = '1MB';
SELECT sharing, child_scans FROM sx_node('SELECT count(*) FROM sx_a WHERE id * 15 > ALL (SELECT a FROM sx_pw WHERE b < 3)');
SET parallel_material.max_producers = 0;
SELECT sharing, child_scans FROM sx_node('SELECT count(*) FROM sx_a WHERE id * 15 > ALL (SELECT a FROM sx_pw WHERE b < 3)');
RESET parallel_material.max_producers;
RESET min_parallel_table_scan_size;
RESET parallel_setup_cost;
SET max_parallel_workers_per_gather = 0;

-- Privileges are checked for every reader as for any query: a role without SELECT gets an
-- error, never the shared rows (the executor checks the whole range table before any node runs).
SELECT * FROM sx_node(:'q');
CREATE ROLE sx_nosel;
GRANT SELECT ON sx_a TO sx_nosel;
GRANT EXECUTE ON FUNCTION sx_node(text) TO sx_nosel;
SET ROLE sx_nosel;
SELECT a.id, b.id FROM sx_a a JOIN sx_b b ON a.grp = b.grp AND a.id < b.id WHERE b.grp < 3;
SELECT * FROM sx_node(:'q');
RESET ROLE;

SELECT parallel_material.reset_shared_results() > 0 AS dropped;
SELECT count(*) AS entries_after_reset FROM parallel_material.shared_results;
DROP TABLE sx_a, sx_b, sx_rls, sx_o, sx_big, sx_pw;
DROP FUNCTION sx_node(text), pm_query_rows(text, boolean), sx_prepared(), pm_node_plan(text);
DROP ROLE sx_nosel;
