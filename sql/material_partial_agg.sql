-- material_partial_agg: issue 15 — a shared ParallelMaterial whose child is an aggregate over a
-- Seq Scan is produced by every participant (Mode: shared, every participant aggregates): each
-- aggregates the blocks it claims into a shared log of partial rows, one combines them. Every
-- query's rows must equal stock's (enable = off) and the one-producer form's
-- (partial_aggregation = off), compared as sorted text: exact. Aggregates whose combined value
-- could differ from the serial one (sums of floating-point values) and everything not on the
-- allowlist keep one producer.
CREATE TABLE pa_outer AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 30000) g;
CREATE TABLE pa_in AS
  SELECT g AS x, g % 7 AS y, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 1000 END AS n,
         (g % 1000)::numeric(10,2) / 7 AS num, (g % 97)::float8 / 3 AS f, g % 5 = 0 AS flag,
         (g % 1000)::numeric(10,2) AS price,
         CASE WHEN g % 13 = 0 THEN NULL ELSE g % 9 END AS k
  FROM generate_series(1, 60000) g;
CREATE TABLE pa_empty (x int, y int, num numeric);
ALTER TABLE pa_in SET (parallel_workers = 0);  -- the inner side stays serial, as in TPC-H
ALTER TABLE pa_empty SET (parallel_workers = 0);
ANALYZE pa_outer, pa_in, pa_empty;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- The rows of q (sorted text, md5) under stock, one producer, every participant: all equal?
CREATE FUNCTION pa_same(q text, OUT same boolean, OUT nrows bigint) LANGUAGE plpgsql AS $$
DECLARE
  h_stock text; h_one text; h_all text; n_stock bigint; n_one bigint;
  sql text := format('SELECT md5(coalesce(string_agg(r::text, '','' ORDER BY r::text), '''')), count(*) FROM (%s) r', q);
BEGIN
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE sql INTO h_stock, n_stock;
  PERFORM set_config('parallel_material.enable', 'on', true);
  PERFORM set_config('parallel_material.partial_aggregation', 'off', true);
  EXECUTE sql INTO h_one, n_one;
  PERFORM set_config('parallel_material.partial_aggregation', 'on', true);
  EXECUTE sql INTO h_all, nrows;
  same := h_stock = h_all AND h_one = h_all AND n_stock = nrows AND n_one = nrows;
END $$;

-- The shared node under EXPLAIN ANALYZE: its mode, how many participants aggregated a share
-- (1 to 3: a worker that starts after the others finished only reads), the partial rows.
CREATE FUNCTION pa_node(q text, OUT mode text, OUT producers_ok boolean, OUT partial_rows bigint,
                        OUT materializations int)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  FOR node IN SELECT value FROM jsonb_path_query(plan, 'strict $.**') AS value
    WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial'
  LOOP
    mode := node->>'Mode';
    producers_ok := (node->>'Partial Producers')::int BETWEEN 1 AND 3;
    partial_rows := (node->>'Partial Rows')::bigint;
    materializations := (node->>'Materializations')::int;
    RETURN;
  END LOOP;
END $$;

-- EXPLAIN ANALYZE lines of q naming the split (numbers masked: they depend on timing).
CREATE FUNCTION pa_explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  PERFORM set_config('parallel_material.enable', 'on', true);
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF line ~ 'Mode|Partial Producers|Finalize|Partial HashAggregate|Partial Aggregate  |PartialAggLog' THEN
      RETURN NEXT regexp_replace(line, '[0-9]+(\.[0-9]+)?', 'N', 'g');  -- 18: rows=N.NN
    END IF;
  END LOOP;
END $$;

SET parallel_material.enable = on;

-- 1. The non-equi join of the issue: a partial nested loop over a shared inner aggregate.
\set q1 'SELECT count(*), sum(a) FROM pa_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM pa_in GROUP BY y) s ON pa_outer.a BETWEEN s.lo AND s.hi'
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*), sum(a) FROM pa_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM pa_in GROUP BY y) s ON pa_outer.a BETWEEN s.lo AND s.hi;
SELECT * FROM pa_same(:'q1');
SELECT mode, producers_ok, materializations FROM pa_node(:'q1');
SELECT * FROM pa_explain(:'q1');

-- 2. The SubPlan shape: an ALL sublink over a grouped average of a numeric column.
\set q2 'SELECT count(*) FROM pa_outer WHERE b < ALL (SELECT avg(num) - 40 FROM pa_in GROUP BY k)'
EXPLAIN (COSTS OFF, VERBOSE) SELECT count(*) FROM pa_outer WHERE b < ALL (SELECT avg(num) - 40 FROM pa_in GROUP BY k);
SELECT * FROM pa_same(:'q2');
SELECT mode, producers_ok, materializations FROM pa_node(:'q2');

-- 3. Allowed aggregates, grouped (NULL group key included) and plain, over NULLs: count,
--    count(col), sum/avg of int4 (int8 states), int8 and numeric (internal states, serialized),
--    min/max of int, numeric(p,s) and text, bool and bit folds, FILTER, HAVING, an expression
--    over aggregates.
\set q3 'SELECT a, s.* FROM pa_outer JOIN (SELECT k, count(*) c, count(n) cn, sum(n) s4, sum(n::int8) s8, avg(n) a4, sum(num) sn, avg(num) an, min(price) mn, max(price) xn, min(n::text) mt, bool_and(flag) ba, bool_or(flag) bo, bit_or(n) bor, count(*) FILTER (WHERE flag) cf, max(x) - min(x) AS spread FROM pa_in GROUP BY k HAVING count(*) > 10) s ON pa_outer.a BETWEEN s.cn * 3 AND s.cn * 3 + 5'
SELECT * FROM pa_same(:'q3');
SELECT mode, producers_ok, materializations FROM pa_node(:'q3');
\set q3b 'SELECT count(*) FROM pa_outer WHERE a < ALL (SELECT count(n) + sum(n) % 7 + coalesce(avg(num), 0) FROM pa_in)'
SELECT * FROM pa_same(:'q3b');
SELECT mode, producers_ok, partial_rows BETWEEN 1 AND 3 AS one_row_each FROM pa_node(:'q3b');
\set q3c 'SELECT a, s.* FROM pa_outer JOIN (SELECT count(*) c, sum(n) s, min(k) mk, max(price) xn FROM pa_in WHERE x % 3 = 1) s ON pa_outer.a < s.mk + 3'
SELECT * FROM pa_same(:'q3c');
SELECT mode, producers_ok FROM pa_node(:'q3c');

-- 4. Empty inputs: a plain aggregate still returns one row (count 0, NULL sum), a grouped one
--    none; also an input whose filter keeps nothing.
\set q4a 'SELECT a, s.* FROM pa_outer JOIN (SELECT count(*) c, sum(num) s, max(y) m FROM pa_empty) s ON pa_outer.a <= s.c + 3'
SELECT * FROM pa_same(:'q4a');
SELECT mode, producers_ok FROM pa_node(:'q4a');
\set q4b 'SELECT count(*) FROM pa_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM pa_empty GROUP BY y) s ON pa_outer.a BETWEEN s.lo AND s.hi'
SELECT * FROM pa_same(:'q4b');
SELECT mode, producers_ok FROM pa_node(:'q4b');
\set q4c 'SELECT a, s.* FROM pa_outer JOIN (SELECT count(*) c, sum(n) s, avg(num) av FROM pa_in WHERE x < 0) s ON pa_outer.a <= s.c + 2'
SELECT * FROM pa_same(:'q4c');

-- 5. Refused (one producer, as before): string_agg, array_agg, DISTINCT and ORDER BY
--    aggregates, sums of floating-point values, a volatile expression, grouping sets, a user
--    aggregate, a grouping without aggregates; and min/max or a grouping key over a type whose
--    equal values may differ (numeric without a scale: 1.0 = 1.00; float8: 0 = -0), where which
--    of the equal values comes out depends on the order rows arrive in.
CREATE AGGREGATE pa_mysum(int) (sfunc = int4pl, stype = int, combinefunc = int4pl, initcond = '0',
                                parallel = safe);
CREATE FUNCTION pa_volatile(int) RETURNS int VOLATILE PARALLEL SAFE LANGUAGE plpgsql
  AS $$ BEGIN RETURN $1; END $$;
SELECT q, (SELECT mode FROM pa_node(q)) AS mode, (SELECT same FROM pa_same(q)) AS same FROM (VALUES
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, string_agg(x::text, '','') sa FROM pa_in WHERE x < 40 GROUP BY y) s ON pa_outer.a < length(s.sa)'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, array_agg(x) aa FROM pa_in WHERE x < 40 GROUP BY y) s ON pa_outer.a < cardinality(s.aa)'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, count(DISTINCT n) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, sum(x ORDER BY x) d FROM pa_in GROUP BY y) s ON pa_outer.a * 10000 < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, sum(f) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d / 100'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, avg(f) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d * 100'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, max(x) d FROM pa_in WHERE pa_volatile(x) >= 0 GROUP BY y) s ON pa_outer.a < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, k, max(x) d FROM pa_in GROUP BY ROLLUP (y, k)) s ON pa_outer.a < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, pa_mysum(x) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d / 1000'),
  ('SELECT count(*) FROM pa_outer WHERE b < ALL (SELECT y * 10 + 40 FROM pa_in GROUP BY y)'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, min(num) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT y, max(f) d FROM pa_in GROUP BY y) s ON pa_outer.a < s.d * 100'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT num / 10 AS g, count(*) d FROM pa_in GROUP BY 1) s ON pa_outer.a < s.d'),
  ('SELECT count(*) FROM pa_outer JOIN (SELECT f AS g, count(*) d FROM pa_in GROUP BY 1) s ON pa_outer.a < s.d')
) v(q);

-- 6. The feature off: one producer, the same rows.
SET parallel_material.partial_aggregation = off;
SELECT mode FROM pa_node(:'q1');
RESET parallel_material.partial_aggregation;

-- 7. No worker launched (the leader alone aggregates and combines), and a leader that does
--    not participate (the workers do everything).
SET max_parallel_workers = 0;
SELECT * FROM pa_same(:'q1');
SELECT mode, producers_ok, partial_rows FROM pa_node(:'q1');
RESET max_parallel_workers;
SET parallel_leader_participation = off;
SELECT * FROM pa_same(:'q1');
SELECT * FROM pa_same(:'q2');
RESET parallel_leader_participation;

-- 8. Gather rescans: the parallel part runs once per outer row; both logs are emptied and every
--    participant aggregates again (the leader's hashed Partial Agg starts over).
SET enable_material = off;
\set q8 'SELECT * FROM (SELECT count(*) c, sum(a) s FROM pa_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM pa_in GROUP BY y) s ON pa_outer.a BETWEEN s.lo AND s.hi) ss RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true'
SELECT * FROM pa_same(:'q8');
SELECT mode, materializations FROM pa_node(:'q8');
RESET enable_material;

-- 9. Spilling: a memory limit far below the partial rows; every participant reads back.
SET parallel_material.memory_limit = '64kB';
\set q9 'SELECT count(*) FROM pa_outer WHERE b < ALL (SELECT count(*) - 80 FROM pa_in GROUP BY x % 20000)'
SELECT * FROM pa_same(:'q9');
SELECT mode, producers_ok, materializations FROM pa_node(:'q9');
RESET parallel_material.memory_limit;

-- 10. An error while one participant aggregates its share is the query's error; the session
--     goes on and gives the right answer again.
\set VERBOSITY terse
SELECT count(*) FROM pa_outer JOIN (SELECT y, min(10 / (x - 45000)) lo, max(x) hi FROM pa_in GROUP BY y) s ON pa_outer.a BETWEEN s.lo AND s.hi;
SELECT count(*) FROM pa_outer WHERE b < ALL (SELECT sum(10 / (x - 59999)) FROM pa_in);
\set VERBOSITY default
SELECT * FROM pa_same(:'q1');
SELECT count(*) AS leftover_spill_files FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%';

-- 11. LIMIT above: the query stops early, nothing is left behind.
SELECT * FROM pa_same('SELECT a FROM pa_outer WHERE b < ALL (SELECT avg(num) - 40 FROM pa_in GROUP BY k) ORDER BY a LIMIT 5');

-- 12. A parallel plan executed without parallelism (PL/pgSQL's SELECT INTO asks the executor
--     for one row, so the Gather runs its plan in the leader alone, with no shared memory): the
--     node runs serially and the PartialAggLog node passes the Partial Agg's rows through, over
--     the whole table.
CREATE FUNCTION pa_into_sum() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE n numeric;
BEGIN
  SELECT sum(a * 1000 + s.y) INTO n
  FROM pa_outer JOIN (SELECT y, min(x) lo, max(x) hi FROM pa_in GROUP BY y) s
    ON pa_outer.a BETWEEN s.lo AND s.hi;
  RETURN n;
END $$;
SET parallel_material.enable = off;
SELECT pa_into_sum() AS stock_sum \gset
SET parallel_material.enable = on;
SELECT pa_into_sum() = :stock_sum AS same_sum;
DROP FUNCTION pa_into_sum();

DROP AGGREGATE pa_mysum(int);
DROP FUNCTION pa_volatile(int);
DROP TABLE pa_outer, pa_in, pa_empty;
DROP FUNCTION pa_same(text), pa_node(text), pa_explain(text);
