-- material_parallel: ParallelMaterial inside parallel queries. One log in the query's dynamic
-- shared memory serves every participant: the child runs once (Shared) or is split by blocks
-- across participants (SharedScan). Results must equal the extension-off results; the child's
-- run count and each node's mode come from EXPLAIN ANALYZE.
CREATE TABLE pq_big AS SELECT g AS a, g % 100 AS b, md5(g::text) AS pad FROM generate_series(1, 40000) g;
CREATE TABLE pq_small AS SELECT g AS x, g % 7 AS y FROM generate_series(1, 3000) g;
CREATE TABLE pq_wide AS SELECT g AS id, repeat(md5(g::text), 8) AS w FROM generate_series(1, 2000) g;
ALTER TABLE pq_small SET (parallel_workers = 0);  -- the inner side stays serial, as in TPC-H
ALTER TABLE pq_wide SET (parallel_workers = 0);
ANALYZE pq_big, pq_small, pq_wide;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- Off vs on for one query: the same multiset of rows (md5 over the sorted rows) and count.
CREATE FUNCTION pq_same(q text, OUT same boolean, OUT nrows bigint) LANGUAGE plpgsql AS $$
DECLARE
  h_off text; h_on text; n_off bigint;
BEGIN
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE format('SELECT md5(coalesce(string_agg(r::text, '','' ORDER BY r::text), '''')), count(*) FROM (%s) r', q)
    INTO h_off, n_off;
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE format('SELECT md5(coalesce(string_agg(r::text, '','' ORDER BY r::text), '''')), count(*) FROM (%s) r', q)
    INTO h_on, nrows;
  same := h_off = h_on AND n_off = nrows;
END $$;

-- What the shared node did: its mode, how many times the log was produced, how many times its
-- child ran (Actual Loops of the child), and whether workers were planned.
CREATE FUNCTION pq_node(q text, OUT mode text, OUT materializations int, OUT child_loops int,
                        OUT parallel boolean, OUT spilled boolean, OUT producer_workers int)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  parallel := plan::text LIKE '%"Workers Planned"%';
  FOR node IN SELECT value FROM jsonb_path_query(plan, 'strict $.**') AS value
    WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial'
  LOOP
    mode := node->>'Mode';
    materializations := (node->>'Materializations')::int;
    child_loops := (node->'Plans'->0->>'Actual Loops')::int;
    spilled := (node->>'Pages Spilled')::int > 0;
    producer_workers := (node->>'Producer Workers Launched')::int;
    RETURN;
  END LOOP;
END $$;

-- 1. The issue's SubPlan shape: an ALL sublink over an aggregate, under a Parallel Seq Scan.
--    Stock: every participant aggregates for itself. Shared: one producer, the child runs once.
\set q1 'SELECT count(*) FROM pq_big WHERE b < ALL (SELECT y * 10 + 40 FROM pq_small GROUP BY y)'
SET parallel_material.enable = on;
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM pq_big WHERE b < ALL (SELECT y * 10 + 40 FROM pq_small GROUP BY y);
SELECT * FROM pq_same(:'q1');
SELECT mode, materializations, child_loops, parallel FROM pq_node(:'q1');

-- 2. A SubPlan over a plain Seq Scan: every participant scans its share of the blocks.
\set q2 'SELECT count(*) FROM pq_big WHERE b <> ALL (SELECT x + 90 FROM pq_small WHERE x % 3 = 0)'
EXPLAIN (COSTS OFF) SELECT count(*) FROM pq_big WHERE b <> ALL (SELECT x + 90 FROM pq_small WHERE x % 3 = 0);
SELECT * FROM pq_same(:'q2');
SELECT mode, materializations, parallel FROM pq_node(:'q2');

-- 3. A non-equi join: a partial nested loop over the shared inner (PostgreSQL 15 alone plans a
--    serial nested loop here).
\set q3 'SELECT count(*), sum(a) FROM pq_big JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi'
EXPLAIN (COSTS OFF) SELECT count(*), sum(a) FROM pq_big JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi;
SELECT * FROM pq_same(:'q3');
SELECT mode, materializations, child_loops, parallel FROM pq_node(:'q3');
SET parallel_material.enable = off;
EXPLAIN (COSTS OFF) SELECT count(*), sum(a) FROM pq_big JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi;
SET parallel_material.enable = on;

-- 4. Join output rows (not only aggregates), LEFT and anti joins over the shared inner.
SELECT * FROM pq_same('SELECT a, s.y FROM pq_big JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi WHERE a % 50 = 0');
SELECT * FROM pq_same('SELECT a, s.y FROM pq_big LEFT JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi WHERE a % 97 = 0');
SELECT * FROM pq_same('SELECT a FROM pq_big WHERE NOT EXISTS (SELECT 1 FROM pq_small WHERE pq_small.x * 10 > pq_big.a AND pq_small.y = 3) AND a % 13 = 0');

-- 5. Spilling: a memory limit far below the result; every participant reads spilled pages back.
SET parallel_material.memory_limit = '64kB';
\set q5 'SELECT count(*) FROM pq_big WHERE a < 3000 AND pad <> ALL (SELECT w FROM pq_wide)'
SELECT * FROM pq_same(:'q5');
SELECT mode, materializations, parallel, spilled FROM pq_node(:'q5');
\set q5b 'SELECT count(*) FROM pq_big WHERE a < 2000 AND pad <> ALL (SELECT w || id FROM pq_wide GROUP BY w, id)'
SELECT * FROM pq_same(:'q5b');
SELECT mode, materializations, child_loops, parallel, spilled FROM pq_node(:'q5b');
RESET parallel_material.memory_limit;

-- 6. Gather rescans: the parallel part runs once per outer row; the shared state is reset and
--    the log produced again each time.
SET enable_material = off;
\set q6 'SELECT * FROM (SELECT count(*) c FROM pq_big JOIN (SELECT y, min(x) lo, max(x) hi FROM pq_small GROUP BY y) s ON pq_big.a BETWEEN s.lo AND s.hi) ss RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true'
SELECT * FROM pq_same(:'q6');
SELECT mode, materializations, child_loops, parallel FROM pq_node(:'q6');
RESET enable_material;

-- 7. LIMIT stops the query early; workers stop, nothing is left behind.
SELECT * FROM pq_same('SELECT count(*) FROM (SELECT a FROM pq_big WHERE b < ALL (SELECT y * 10 + 40 FROM pq_small GROUP BY y) LIMIT 7) l');

-- 8. An error in the producer is the query's error (in whichever participant produces), and
--    the session goes on.
\set VERBOSITY terse
SELECT count(*) FROM pq_big WHERE b < ALL (SELECT 10 / (y - 3) FROM pq_small GROUP BY y);
SELECT count(*) FROM pq_big WHERE b < ALL (SELECT 10 / (x - 1500) FROM pq_small);
\set VERBOSITY default
SELECT 'still usable' AS session;

-- 9. What is not shared, and EXPLAIN VERBOSE says why: a child that reads a parameter (here
--    an InitPlan's, evaluated by the leader) is materialized by each participant for itself;
--    outside a parallel query the node is simply serial (no Sharing line).
\set q9 'SELECT count(*) FROM pq_big JOIN pq_small ON pq_big.a BETWEEN pq_small.x * 20 AND pq_small.x * 20 + 5 WHERE pq_small.y < (SELECT max(y) - 3 FROM pq_small)'
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM pq_big JOIN pq_small ON pq_big.a BETWEEN pq_small.x * 20 AND pq_small.x * 20 + 5 WHERE pq_small.y < (SELECT max(y) - 3 FROM pq_small);
SELECT * FROM pq_same(:'q9');
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM pq_big WHERE b < ALL (SELECT y * 10 + 40 FROM pq_small GROUP BY y);
SET max_parallel_workers_per_gather = 2;

-- 10. force_parallel_mode: a serial plan under a single-copy Gather (one worker participant).
--     (renamed debug_parallel_query in PostgreSQL 16)
SELECT CASE WHEN current_setting('server_version_num')::int < 160000 THEN 'force_parallel_mode'
            ELSE 'debug_parallel_query' END AS debug_parallel_guc \gset
SET :debug_parallel_guc = on;
SELECT * FROM pq_same('SELECT a, x FROM pq_big, pq_small WHERE a < 40 AND x < 30 AND a > x');
RESET :debug_parallel_guc;

-- 11. Producer workers of a serial node (parallel_material.max_producers): a serial plan whose
--     SubPlan materializes a Seq Scan of a table above min_parallel_table_scan_size; the leader
--     and its producer workers split the scan by blocks and append into one log.
SET parallel_setup_cost = 1e9;  -- a serial plan, though parallel-safe
SET min_parallel_table_scan_size = '1MB';
\set q11 'SELECT count(*) FROM pq_small WHERE x * 15 > ALL (SELECT a FROM pq_big WHERE b < 3)'
EXPLAIN (COSTS OFF) SELECT count(*) FROM pq_small WHERE x * 15 > ALL (SELECT a FROM pq_big WHERE b < 3);
SELECT * FROM pq_same(:'q11');
SELECT mode, materializations, parallel, producer_workers > 0 AS producers FROM pq_node(:'q11');
SET parallel_material.memory_limit = '64kB';
\set q11b 'SELECT count(*) FROM pq_small WHERE md5(x::text) < ALL (SELECT pad FROM pq_big WHERE b < 10)'
SELECT * FROM pq_same(:'q11b');
SELECT mode, spilled, producer_workers > 0 AS producers FROM pq_node(:'q11b');
-- The leader stops reading after a row or two (ALL is false at once) while its producer workers
-- still append far past the 64 kB ring: at the end the leader must not keep an open part of
-- the log (its chunk) that a worker needs recycled while it waits for that worker to finish
-- (such a hang would end in the statement_timeout error).
SET statement_timeout = '60s';
\set q11c 'SELECT count(*) FROM pq_small WHERE x < 3 AND x > ALL (SELECT a FROM pq_big WHERE b < 90)'
SELECT * FROM pq_same(:'q11c');
SELECT mode, producer_workers > 0 AS producers FROM pq_node(:'q11c');
-- A statement_timeout while the leader waits at the end for its producer workers (they scan
-- slowly: a sleeping qual) is the query's error, the abort cleans up, and the session stays
-- usable (the cleanup crashed the backend before: a log handle released half-way).
SET statement_timeout = '1s';
\set VERBOSITY terse
SELECT count(*) FROM pq_small WHERE x < 3 AND x > ALL (SELECT a FROM pq_big WHERE b < 90 AND pg_sleep(0.0005) IS NOT NULL);
\set VERBOSITY default
RESET statement_timeout;
SELECT 'still usable' AS session;
-- An error in a producer worker (or the leader) is the query's error; the next query is fine.
\set VERBOSITY terse
SELECT count(*) FROM pq_small WHERE x > ALL (SELECT 1 / (a - 30000) FROM pq_big WHERE b < 3);
\set VERBOSITY default
SELECT 'still usable' AS session;
SET parallel_material.max_producers = 0;
SELECT mode, producer_workers FROM pq_node(:'q11');
RESET parallel_material.max_producers;
RESET parallel_material.memory_limit;
RESET min_parallel_table_scan_size;
SET parallel_setup_cost = 0;

-- 12. A Merge Join's inner in a parallel plan: one producer (the order matters), every
--     participant marks and restores its own position in the shared log; spilling.
SET enable_hashjoin = off;
SET enable_nestloop = off;
SET work_mem = '64kB';
\set q12 'SELECT count(*), sum(pq_big.a) FROM pq_big JOIN (SELECT x, y FROM pq_small UNION ALL SELECT x + 1, y FROM pq_small) u ON pq_big.a = u.x'
EXPLAIN (COSTS OFF) SELECT count(*), sum(pq_big.a) FROM pq_big JOIN (SELECT x, y FROM pq_small UNION ALL SELECT x + 1, y FROM pq_small) u ON pq_big.a = u.x;
SELECT * FROM pq_same(:'q12');
SELECT mode, materializations, child_loops, parallel FROM pq_node(:'q12');
RESET enable_hashjoin;
RESET enable_nestloop;
RESET work_mem;

-- No spill files are left in the temporary directory.
SELECT count(*) AS leftover_spill_files FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%';
DROP TABLE pq_big, pq_small, pq_wide;
DROP FUNCTION pq_same(text), pq_node(text);
