-- material_child_jit (issue 15): in a shared mode a ParallelMaterial node's child runs once for
-- the whole query (split across the participants, or by one producer), while the planner decided
-- JIT for the whole plan, whose cost is mostly the parent's (a SubPlan's comparisons per outer
-- row, a nested loop's). The child's expressions are compiled only where PostgreSQL's own rule
-- would compile a plan of the child's cost (jit_above_cost): with jit_above_cost between the
-- child's cost and the plan's, EXPLAIN ANALYZE's JIT "Functions" counts only the parent's
-- expressions (fewer than at jit_above_cost = 0, where the child's are compiled too). The rows
-- are stock's either way. Where the server has no JIT provider the checks pass trivially.
-- Only the leader runs (max_parallel_workers = 0: the node is still in its shared mode), so the
-- function counts do not depend on how many workers start.
CREATE TABLE mj_outer AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 20000) g;
CREATE TABLE mj_in AS
  SELECT g AS x, g % 7 AS y, (g % 1000)::numeric(10,2) / 7 AS num,
         CASE WHEN g % 13 = 0 THEN NULL ELSE g % 9 END AS k
  FROM generate_series(1, 40000) g;
ALTER TABLE mj_in SET (parallel_workers = 0);  -- the inner side stays serial, as in TPC-H
ANALYZE mj_outer, mj_in;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET max_parallel_workers = 0;
SET parallel_material.enable = on;
SET jit = on;
SET jit_inline_above_cost = -1;
SET jit_optimize_above_cost = -1;

-- The plan's cost and its ParallelMaterial node's child's, and the node's mode.
CREATE FUNCTION mj_costs(q text, OUT plan_cost float8, OUT child_cost float8, OUT mode text)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  plan_cost := (plan->0->'Plan'->>'Total Cost')::float8;
  FOR node IN SELECT value FROM jsonb_path_query(plan, 'strict $.**') AS value
    WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial'
  LOOP
    child_cost := (node->'Plans'->0->>'Total Cost')::float8;
    mode := node->>'Mode';
    RETURN;
  END LOOP;
END $$;

-- How many functions JIT compiled for q (EXPLAIN prints the JIT section only with COSTS on).
CREATE FUNCTION mj_jit(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO plan;
  RETURN coalesce((plan->0->'JIT'->>'Functions')::int, 0);
END $$;

-- q's rows (sorted text, md5) with the extension and with it off: equal?
CREATE FUNCTION mj_same(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  h_ext text; h_stock text;
  sql text := format('SELECT md5(coalesce(string_agg(r::text, '','' ORDER BY r::text), '''')) FROM (%s) r', q);
BEGIN
  EXECUTE sql INTO h_ext;
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE sql INTO h_stock;
  PERFORM set_config('parallel_material.enable', 'on', true);
  RETURN h_ext = h_stock;
END $$;

-- JIT functions at jit_above_cost = 0 (child compiled) and with jit_above_cost just above the
-- child's cost (below the plan's): the second counts fewer, but not none (the parent's).
CREATE FUNCTION mj_check(q text, OUT mode text, OUT child_below_plan boolean,
                         OUT child_not_compiled boolean, OUT same_rows boolean)
LANGUAGE plpgsql AS $$
DECLARE
  pc float8; cc float8; n_all int; n_rule int;
BEGIN
  SELECT c.plan_cost, c.child_cost, c.mode INTO pc, cc, mode FROM mj_costs(q) c;
  child_below_plan := cc + 1 < pc;
  PERFORM set_config('jit_above_cost', '0', true);
  n_all := mj_jit(q);
  PERFORM set_config('jit_above_cost', (cc + 1)::text, true);
  n_rule := mj_jit(q);
  child_not_compiled := NOT pg_jit_available() OR (n_rule > 0 AND n_rule < n_all);
  same_rows := mj_same(q);
  PERFORM set_config('jit_above_cost', '0', true);
  same_rows := same_rows AND mj_same(q);
END $$;

-- 1. The SubPlan shape: an ALL sublink over a grouped average, every participant aggregates.
\set q1 'SELECT count(*) FROM mj_outer WHERE b < ALL (SELECT avg(num) - 40 FROM mj_in GROUP BY k)'
SELECT * FROM mj_check(:'q1');
-- 2. The non-equi join: a partial nested loop over a shared inner aggregate.
\set q2 'SELECT count(*), sum(a) FROM mj_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM mj_in GROUP BY y) s ON mj_outer.a BETWEEN s.lo AND s.hi'
SELECT * FROM mj_check(:'q2');
-- 3. One producer (partial_aggregation off): the others never run the child at all.
SET parallel_material.partial_aggregation = off;
SELECT * FROM mj_check(:'q1');
RESET parallel_material.partial_aggregation;

DROP FUNCTION mj_check(text);
DROP FUNCTION mj_same(text);
DROP FUNCTION mj_jit(text);
DROP FUNCTION mj_costs(text);
DROP TABLE mj_outer, mj_in;
