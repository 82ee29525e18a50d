-- shared_results_parallel: cross-session sharing (issue 6) of ParallelMaterial nodes inside
-- parallel queries. Before the workers start, the leader looks the node's result up for the
-- query's snapshot (it alone knows what its transaction wrote) and pins the entry; the one
-- participant that produces the query's log then copies the entry into it (hit) or produces the
-- entry as it produces the log. An identical second query hits (the child never runs), a
-- committed write makes the next one recompute, and every result equals the extension-off one.
SET client_min_messages = warning;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
CREATE TABLE sp_big AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 40000) g;
CREATE TABLE sp_small AS SELECT g AS x, g % 7 AS y FROM generate_series(1, 3000) g;
ALTER TABLE sp_small SET (parallel_workers = 0);  -- the inner side stays serial, as in TPC-H
ANALYZE sp_big, sp_small;
-- (Right after a reset of the data versions nothing is shared while older transactions run.)
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sp_small'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET parallel_material.share_whole_results = off;  -- Materialize nodes only (sql/shared_sites.sql covers whole results)

-- What the first ParallelMaterial node did: its mode, its Cross-Session Sharing line, how many
-- times its child ran (all participants), and whether the plan is parallel.
\i sql/include/node_plan.psql
CREATE FUNCTION sp_node(q text, OUT mode text, OUT sharing text, OUT child_loops int,
                        OUT parallel boolean)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  SELECT p.plan, p.node INTO plan, node FROM pm_node_plan(q) p;
  parallel := plan::text LIKE '%"Workers Planned"%';
  mode := node->>'Mode';
  sharing := node->>'Cross-Session Sharing';
  child_loops := (node->'Plans'->0->>'Actual Loops')::int;
END $$;

-- pm_query_rows(q, ext): the query's rows (hashed in a fixed order) with the extension on or off.
\i sql/include/query_rows.psql

-- 1. One producer (a SubPlan over an aggregate under a Parallel Seq Scan): the first query
--    produces the entry, the second copies it into its log without running the child.
\set q1 'SELECT count(*) FROM sp_big WHERE b < ALL (SELECT y * 10 + 40 FROM sp_small GROUP BY y)'
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM sp_big WHERE b < ALL (SELECT y * 10 + 40 FROM sp_small GROUP BY y);
SELECT * FROM sp_node(:'q1');
SELECT * FROM sp_node(:'q1');
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows, pm_query_rows(:'q1', true) AS rows_on;
SELECT count(*) > 0 AS has_entry, sum(hits) >= 2 AS hits_counted
  FROM parallel_material.shared_results WHERE state = 'ready';

-- 2. Every participant scans (a SubPlan over a plain Seq Scan): shared across sessions, the run
--    has one producer (it copies the entry, or produces it whole for the other sessions).
\set q2 'SELECT count(*) FROM sp_big WHERE b <> ALL (SELECT x + 90 FROM sp_small WHERE x % 3 = 0)'
SELECT * FROM sp_node(:'q2');
SELECT * FROM sp_node(:'q2');
SELECT pm_query_rows(:'q2', true) = pm_query_rows(:'q2', false) AS same_rows;

-- 3. The non-equi join: a partial nested loop over the shared inner; its rows, not only counts.
\set q3 'SELECT a, s.y FROM sp_big JOIN (SELECT y, min(x) lo, max(x) hi FROM sp_small GROUP BY y) s ON sp_big.a BETWEEN s.lo AND s.hi WHERE a % 50 = 0'
SELECT * FROM sp_node(:'q3');
SELECT * FROM sp_node(:'q3');
SELECT pm_query_rows(:'q3', true) = pm_query_rows(:'q3', false) AS same_rows;

-- 4. A committed write to the inner relation: the next query recomputes (a new entry), with
--    the new rows; then hits again.
INSERT INTO sp_small VALUES (3001, 3), (3002, 4);
SELECT * FROM sp_node(:'q3');
SELECT * FROM sp_node(:'q3');
SELECT pm_query_rows(:'q3', true) = pm_query_rows(:'q3', false) AS same_rows;

-- 5. The writer's own transaction bypasses sharing (its uncommitted rows are its alone).
BEGIN;
INSERT INTO sp_small VALUES (3003, 5);
SELECT * FROM sp_node(:'q3');
SELECT pm_query_rows(:'q3', true) = pm_query_rows(:'q3', false) AS same_rows;
ROLLBACK;
SELECT * FROM sp_node(:'q3');

-- 6. Gather rescans: the parallel part runs once per outer row, and each run asks the
--    registry again (ReInitializeDSM): the first run of a new key produces, the others hit, and
--    the child runs once in all.
INSERT INTO sp_small VALUES (3004, 6);
SET enable_material = off;
\set q6 'SELECT * FROM (SELECT count(*) c FROM sp_big JOIN (SELECT y, min(x) lo, max(x) hi FROM sp_small GROUP BY y) s ON sp_big.a BETWEEN s.lo AND s.hi) ss RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true'
SELECT * FROM sp_node(:'q6');
SELECT pm_query_rows(:'q6', true) = pm_query_rows(:'q6', false) AS same_rows;
RESET enable_material;

-- 7. A serial node that would start producer workers (parallel_material.max_producers): a run
--    shared across sessions starts none (one producer streams it to the other sessions), and
--    a hit runs nothing at all. Without sharing the same node starts its workers.
SET parallel_setup_cost = 1e9;  -- a serial plan, though parallel-safe
SET min_parallel_table_scan_size = '64kB';
CREATE FUNCTION sp_producers(q text, OUT sharing text, OUT producer_workers int, OUT child_loops int)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  SELECT p.plan, p.node INTO plan, node FROM pm_node_plan(q) p;
  sharing := node->>'Cross-Session Sharing';
  producer_workers := coalesce((node->>'Producer Workers Launched')::int, 0);
  child_loops := (node->'Plans'->0->>'Actual Loops')::int;
END $$;
\set q7 'SELECT count(*) FROM sp_small WHERE x * 15 > ALL (SELECT a FROM sp_big WHERE b < 3)'
SELECT * FROM sp_producers(:'q7');
SELECT * FROM sp_producers(:'q7');
SELECT pm_query_rows(:'q7', true) = pm_query_rows(:'q7', false) AS same_rows;
SET parallel_material.share_across_sessions = off;
SELECT sharing, producer_workers > 0 AS producers FROM sp_producers(:'q7');
SET parallel_material.share_across_sessions = on;
RESET parallel_setup_cost;
SET min_parallel_table_scan_size = 0;

-- 8. A session never waits for a production of its own: a cursor's node has produced part of a
--    result (FETCH stopped it) when the same query runs again in the same session; the second
--    run does not attach to that entry (it would wait forever), it runs its child itself.
SET max_parallel_workers_per_gather = 0;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
SET statement_timeout = '60s';  -- a regression here would hang: fail instead
\set q8 'SELECT o.x, s.c FROM sp_small o JOIN (SELECT y, count(*) c FROM sp_small GROUP BY y) s ON s.y = o.y'
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
BEGIN;
DECLARE c8 NO SCROLL CURSOR FOR SELECT o.x, s.c FROM sp_small o JOIN (SELECT y, count(*) c FROM sp_small GROUP BY y) s ON s.y = o.y;
FETCH 1 FROM c8;
SELECT state, readers FROM parallel_material.shared_results;
SELECT * FROM sp_node(:'q8');
SELECT pm_query_rows(:'q8', true) = pm_query_rows(:'q8', false) AS same_rows;
CLOSE c8;
COMMIT;
SELECT count(*) AS entries_left_producing FROM parallel_material.shared_results WHERE state = 'producing';
RESET statement_timeout;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;
SET max_parallel_workers_per_gather = 2;

-- 9. Off: no Cross-Session Sharing line at all.
SET parallel_material.share_across_sessions = off;
SELECT * FROM sp_node(:'q1');

DROP TABLE sp_big, sp_small;
DROP FUNCTION sp_node(text), pm_query_rows(text, boolean), sp_producers(text), pm_node_plan(text);
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
