-- material_sites: every place PostgreSQL plans a Material becomes ParallelMaterial, and returns
-- the same rows: nested-loop inner, merge-join inner with mark/restore, SubPlan, InitPlan,
-- SCROLL cursor with backward fetch, rescans with parameters, spilling under a small limit.
CREATE TABLE pm_a (id int, grp int, val text);
CREATE TABLE pm_b (id int, grp int, w numeric);
INSERT INTO pm_a SELECT g, g % 10, 'a' || g FROM generate_series(1, 200) g;
INSERT INTO pm_b SELECT g, g % 7, g * 1.5 FROM generate_series(1, 120) g;
INSERT INTO pm_b SELECT g, g % 7, NULL FROM generate_series(1, 30) g;  -- duplicate ids, NULLs
CREATE TABLE pm_m AS SELECT g % 250 AS id, md5(g::text) AS pad FROM generate_series(1, 3000) g;
ANALYZE pm_a, pm_b, pm_m;
SET max_parallel_workers_per_gather = 0;
SET parallel_material.enable = on;

-- 1. nested-loop inner (non-equi join)
SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pm_a a JOIN pm_b b ON a.id < b.id AND a.grp = b.grp;
SELECT count(*), sum(a.id), sum(b.w) FROM pm_a a JOIN pm_b b ON a.id < b.id AND a.grp = b.grp;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM pm_a a JOIN pm_b b ON a.id < b.id AND a.grp = b.grp;
SET parallel_material.enable = off;
SELECT count(*), sum(a.id), sum(b.w) FROM pm_a a JOIN pm_b b ON a.id < b.id AND a.grp = b.grp;
SET parallel_material.enable = on;
RESET enable_hashjoin; RESET enable_mergejoin;

-- 2. merge-join inner with mark/restore (duplicate keys force restores)
SET enable_hashjoin = off; SET enable_nestloop = off;
SET work_mem = '64kB';  -- the inner sort would exceed work_mem: the planner materializes it
EXPLAIN (COSTS OFF) SELECT a.id, m.pad FROM pm_a a JOIN pm_m m ON a.id = m.id;
SELECT count(*), count(DISTINCT m.pad), sum(a.id) FROM pm_a a JOIN pm_m m ON a.id = m.id;
SELECT a.id, m.pad FROM pm_a a JOIN pm_m m ON a.id = m.id WHERE a.id <= 3 ORDER BY 1, 2;
SELECT count(*), count(m.pad), count(a.id) FROM pm_a a FULL JOIN pm_m m ON a.id = m.id;
SET parallel_material.enable = off;
SELECT count(*), count(DISTINCT m.pad), sum(a.id) FROM pm_a a JOIN pm_m m ON a.id = m.id;
SELECT count(*), count(m.pad), count(a.id) FROM pm_a a FULL JOIN pm_m m ON a.id = m.id;
SET parallel_material.enable = on;
RESET enable_hashjoin; RESET enable_nestloop; RESET work_mem;

-- 3. SubPlan: ALL over an uncorrelated, non-hashable subquery (rescanned per outer row)
EXPLAIN (COSTS OFF) SELECT count(*) FROM pm_a WHERE id < ALL (SELECT id * 2 FROM pm_b WHERE grp = 3);
SELECT count(*) FROM pm_a WHERE id < ALL (SELECT id * 2 FROM pm_b WHERE grp = 3);
SELECT count(*) FROM pm_a WHERE id <> ALL (SELECT id FROM pm_b WHERE w IS NULL);

-- 4. InitPlan containing a materialized join
SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT id FROM pm_a WHERE id = (SELECT max(a.id) FROM pm_a a JOIN pm_b b ON a.id > b.id + 150);
SELECT id FROM pm_a WHERE id = (SELECT max(a.id) FROM pm_a a JOIN pm_b b ON a.id > b.id + 150);
RESET enable_hashjoin; RESET enable_mergejoin;

-- 5. SCROLL cursor with backward fetch: WindowAgg cannot scan backward, so the planner puts a
-- Material on top. The same fetch sequence runs with the extension off, then on.
EXPLAIN (COSTS OFF) DECLARE c SCROLL CURSOR FOR SELECT g, sum(g) OVER (ORDER BY g) AS s FROM generate_series(1, 5) g;
SET parallel_material.enable = off;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT g, sum(g) OVER (ORDER BY g) AS s FROM generate_series(1, 5) g;
FETCH 2 FROM c;
FETCH PRIOR FROM c;
FETCH PRIOR FROM c;
FETCH PRIOR FROM c;
FETCH NEXT FROM c;
FETCH ALL FROM c;
FETCH PRIOR FROM c;
FETCH BACKWARD 2 FROM c;
FETCH ABSOLUTE 5 FROM c;
FETCH RELATIVE -4 FROM c;
FETCH LAST FROM c;
FETCH FIRST FROM c;
FETCH BACKWARD ALL FROM c;
FETCH FORWARD ALL FROM c;
MOVE BACKWARD ALL IN c;
FETCH NEXT FROM c;
CLOSE c;
COMMIT;
SET parallel_material.enable = on;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT g, sum(g) OVER (ORDER BY g) AS s FROM generate_series(1, 5) g;
FETCH 2 FROM c;
FETCH PRIOR FROM c;
FETCH PRIOR FROM c;
FETCH PRIOR FROM c;
FETCH NEXT FROM c;
FETCH ALL FROM c;
FETCH PRIOR FROM c;
FETCH BACKWARD 2 FROM c;
FETCH ABSOLUTE 5 FROM c;
FETCH RELATIVE -4 FROM c;
FETCH LAST FROM c;
FETCH FIRST FROM c;
FETCH BACKWARD ALL FROM c;
FETCH FORWARD ALL FROM c;
MOVE BACKWARD ALL IN c;
FETCH NEXT FROM c;
CLOSE c;
COMMIT;

-- 6. rescans with changed parameters: a correlated subquery over a materialized join
SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT a.id, (SELECT count(*) FROM pm_b b1 JOIN pm_b b2 ON b1.id < b2.id WHERE b1.grp = a.grp AND b2.id < 20)
  FROM pm_a a WHERE a.id <= 10 ORDER BY a.id;
SELECT a.id, (SELECT count(*) FROM pm_b b1 JOIN pm_b b2 ON b1.id < b2.id WHERE b1.grp = a.grp AND b2.id < 20)
  FROM pm_a a WHERE a.id <= 10 ORDER BY a.id;
SET parallel_material.enable = off;
SELECT a.id, (SELECT count(*) FROM pm_b b1 JOIN pm_b b2 ON b1.id < b2.id WHERE b1.grp = a.grp AND b2.id < 20)
  FROM pm_a a WHERE a.id <= 10 ORDER BY a.id;
SET parallel_material.enable = on;
-- LATERAL: the inner's parameter changes with every outer row
SELECT a.id, s.n FROM pm_a a, LATERAL (SELECT count(*) AS n FROM pm_b b JOIN pm_b c ON b.id < c.id
  WHERE b.grp = a.grp AND c.grp = a.grp) s WHERE a.id <= 5 ORDER BY 1;
RESET enable_hashjoin; RESET enable_mergejoin;

-- 7. spilling: a 64kB limit forces pages out to the temp file and back
SET parallel_material.memory_limit = '64kB';
SET enable_hashjoin = off; SET enable_mergejoin = off;
CREATE TABLE pm_wide AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 3000) g;
ANALYZE pm_wide;
SELECT count(*), sum(length(w.pad)), sum(w.id) FROM pm_a a LEFT JOIN pm_wide w ON w.id % 200 = a.id - 1 WHERE a.id <= 3;
SET parallel_material.spill_io = 'sync';
SELECT count(*), sum(length(w.pad)), sum(w.id) FROM pm_a a LEFT JOIN pm_wide w ON w.id % 200 = a.id - 1 WHERE a.id <= 3;
-- the node reports what it spilled (JSON EXPLAIN, read back in SQL)
CREATE FUNCTION pm_node_stats(q text) RETURNS TABLE (produced bigint, spilled_pages_positive boolean, io text)
LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY WITH RECURSIVE nodes(n) AS (
      SELECT plan->0->'Plan'
      UNION ALL
      SELECT child FROM nodes, json_array_elements(coalesce(n->'Plans', '[]'::json)) child)
    SELECT (n->>'Rows Produced')::bigint, (n->>'Pages Spilled')::bigint > 0, n->>'Spill I/O'
      FROM nodes WHERE n->>'Custom Plan Provider' = 'ParallelMaterial';
END $$;
SELECT * FROM pm_node_stats('SELECT count(*) FROM pm_a a LEFT JOIN pm_wide w ON w.id % 200 = a.id - 1 WHERE a.id <= 3');
RESET parallel_material.memory_limit;
SELECT * FROM pm_node_stats('SELECT count(*) FROM pm_a a LEFT JOIN pm_wide w ON w.id % 200 = a.id - 1 WHERE a.id <= 3');
SET parallel_material.memory_limit = '64kB';
SET parallel_material.spill_io = 'auto';
-- rows longer than half the ring go out of line
CREATE TABLE pm_big AS SELECT g AS id, repeat(md5(g::text), 2000) AS pad FROM generate_series(1, 5) g;
SELECT count(*), sum(length(b.pad)) FROM pm_a a JOIN pm_big b ON a.id <> b.id WHERE a.id <= 4;
SET parallel_material.enable = off;
SELECT count(*), sum(length(w.pad)), sum(w.id) FROM pm_a a LEFT JOIN pm_wide w ON w.id % 200 = a.id - 1 WHERE a.id <= 3;
SELECT count(*), sum(length(b.pad)) FROM pm_a a JOIN pm_big b ON a.id <> b.id WHERE a.id <= 4;
SET parallel_material.enable = on;
RESET parallel_material.memory_limit;
RESET enable_hashjoin; RESET enable_mergejoin;

-- 8. EXPLAIN VERBOSE deparses the node's output columns, whatever the child
SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, s.g, s.m FROM pm_a a JOIN (SELECT grp AS g, max(w) AS m FROM pm_b GROUP BY grp) s ON a.id < s.g;
RESET enable_hashjoin; RESET enable_mergejoin;

-- 9. the cluster counters moved
SELECT materializations > 0 AS counted FROM parallel_material.stats;
DROP FUNCTION pm_node_stats(text);
DROP TABLE pm_a, pm_b, pm_m, pm_wide, pm_big;
