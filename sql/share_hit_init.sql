-- share_hit_init (issue 15): a streaming sharing site initializes its child only when a run
-- executes it. A hit builds none of the child's expressions, so with JIT on nothing of the
-- child is compiled (EXPLAIN ANALYZE's JIT "Functions" of a hit: 0, of the producing run: > 0);
-- EXPLAIN without ANALYZE still shows the child, and EXPLAIN ANALYZE of a hit shows it as never
-- executed, as before. Plans of several shapes (parallel, joins, SubPlans, LIMIT, Append, a
-- Material site below) give stock's rows when produced and when hit.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE TABLE hi_li (id int, grp int, qty numeric, flag text);
INSERT INTO hi_li SELECT g, g % 6, (g % 50) * 1.25, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'N' END
  FROM generate_series(1, 20000) g;
CREATE TABLE hi_sup (id int, name text);
INSERT INTO hi_sup SELECT g, 's' || g FROM generate_series(0, 5) g;
ANALYZE hi_li, hi_sup;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('hi_li'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- What the whole-result site's last run did, and how many functions JIT compiled for the query.
CREATE FUNCTION hi_jit(q text) RETURNS TABLE (sharing text, jit_functions int)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  -- (EXPLAIN prints the JIT section only with COSTS on.)
  EXECUTE 'EXPLAIN (ANALYZE, COSTS ON, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY SELECT plan->0->'Plan'->>'Cross-Session Sharing',
                      coalesce((plan->0->'JIT'->>'Functions')::int, 0);
END $$;
-- Every node's sharing outcome, and the JIT functions of the query.
CREATE FUNCTION hi_jit_all(q text) RETURNS TABLE (sharing text, jit_functions int)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS ON, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY
    SELECT (SELECT string_agg(value->>'Cross-Session Sharing', ', ')
              FROM jsonb_path_query(plan, 'strict $.**') AS value
             WHERE jsonb_typeof(value) = 'object' AND value ? 'Cross-Session Sharing'),
           coalesce((plan->0->'JIT'->>'Functions')::int, 0);
END $$;
-- Every sharing site of a plan: (site, what its last run did), in plan order.
\i sql/include/share_sites.psql
\i sql/include/query_rows.psql

-- ---- JIT compiles nothing for a hit ----
SELECT pg_jit_available() AS jit_available;
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = -1;
SET jit_optimize_above_cost = -1;
\set q1 'SELECT flag, grp, sum(qty) AS s, sum(qty * (1 - qty / 100)) AS d, avg(qty) AS a, count(*) AS n FROM hi_li WHERE id <= 19000 GROUP BY flag, grp ORDER BY flag, grp'
SELECT sharing, jit_functions > 0 AS compiled FROM hi_jit(:'q1');
SELECT sharing, jit_functions FROM hi_jit(:'q1');
-- Stock (the extension off) compiles the same plan.
SET parallel_material.enable = off;
SELECT sharing, jit_functions > 0 AS compiled FROM hi_jit(:'q1');
SET parallel_material.enable = on;
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows_jit;
-- A Material site (a nested loop's inner, no whole-result site): its hit compiles only what
-- runs above it.
SET parallel_material.share_whole_results = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
\set qmj 'SELECT s.name, g.t FROM hi_sup s JOIN (SELECT grp, sum(qty * 2) AS t, avg(qty + 1) AS a FROM hi_li GROUP BY grp) g ON g.t > s.id * 1000 ORDER BY 1, 2'
-- (no table to keep the counts in: a write would make new keys)
SELECT a.sharing AS first_run, a.jit_functions > 0 AS compiled, b.sharing AS second_run,
       b.jit_functions < a.jit_functions AS hit_compiles_less
  FROM hi_jit_all(:'qmj') a, LATERAL (SELECT * FROM hi_jit_all(:'qmj' || repeat(' ', a.jit_functions * 0))) b;
SELECT pm_query_rows(:'qmj', true) = pm_query_rows(:'qmj', false) AS same_rows_material;
RESET enable_hashjoin;
RESET enable_mergejoin;
SET parallel_material.share_whole_results = on;
SET jit = off;

-- ---- EXPLAIN shows the child; EXPLAIN ANALYZE of a hit shows it never executed ----
EXPLAIN (COSTS OFF) :q1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) :q1;

-- ---- shapes: produced, then hit, with stock's rows each time ----
CREATE FUNCTION hi_check(q text) RETURNS TABLE (sharing text, same_rows boolean)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT string_agg(coalesce(s.site, '') || ': ' || coalesce(s.sharing, '-'), ', '),
                      pm_query_rows(q, true) = pm_query_rows(q, false)
                 FROM pm_share_sites(q) s;
END $$;
-- A parallel plan below the site (Gather Merge over a partial aggregate).
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
\set qp 'SELECT grp, sum(qty) AS s, count(*) AS n FROM hi_li GROUP BY grp ORDER BY grp'
SELECT * FROM hi_check(:'qp');
SELECT * FROM hi_check(:'qp');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;
-- Joins, a hashed and a correlated SubPlan, LIMIT, UNION ALL, a set-returning function.
\set qh 'SELECT s.name, sum(l.qty) AS s FROM hi_li l JOIN hi_sup s ON s.id = l.grp WHERE l.flag = ''A'' GROUP BY s.name ORDER BY s.name'
SELECT * FROM hi_check(:'qh');
SELECT * FROM hi_check(:'qh');
\set qn 'SELECT s.id, l.id FROM hi_sup s JOIN hi_li l ON l.id < s.id + 3 ORDER BY 1, 2'
SELECT * FROM hi_check(:'qn');
SELECT * FROM hi_check(:'qn');
\set qs 'SELECT id, (SELECT name FROM hi_sup s WHERE s.id = l.grp) FROM hi_li l WHERE id % 1000 = 7 AND grp IN (SELECT id FROM hi_sup WHERE name < ''s4'') ORDER BY id'
SELECT * FROM hi_check(:'qs');
SELECT * FROM hi_check(:'qs');
\set ql 'SELECT id, qty FROM hi_li WHERE qty > 60 ORDER BY qty DESC, id LIMIT 7'
SELECT * FROM hi_check(:'ql');
SELECT * FROM hi_check(:'ql');
\set qu 'SELECT grp, count(*) FROM (SELECT grp FROM hi_li WHERE id < 100 UNION ALL SELECT id FROM hi_sup) u GROUP BY grp ORDER BY grp'
SELECT * FROM hi_check(:'qu');
SELECT * FROM hi_check(:'qu');
\set qg 'SELECT id, generate_series(1, grp) AS g FROM hi_li WHERE id < 8 ORDER BY 1, 2'
SELECT * FROM hi_check(:'qg');
SELECT * FROM hi_check(:'qg');
-- A Material site below the whole result (a nested loop's inner).
SET enable_hashjoin = off;
SET enable_mergejoin = off;
\set qm 'SELECT s.name, count(*) FROM hi_sup s JOIN (SELECT grp, sum(qty) AS t FROM hi_li GROUP BY grp) g ON g.t > s.id * 1000 GROUP BY s.name ORDER BY s.name'
SELECT * FROM hi_check(:'qm');
SELECT * FROM hi_check(:'qm');
RESET enable_hashjoin;
RESET enable_mergejoin;
-- A MATERIALIZED CTE (a CTE scan below the whole result: that child is initialized at start).
\set qc 'WITH c AS MATERIALIZED (SELECT grp, sum(qty) AS t FROM hi_li GROUP BY grp) SELECT a.grp, b.t FROM c a JOIN c b ON a.grp = b.grp ORDER BY 1'
SELECT * FROM hi_check(:'qc');
SELECT * FROM hi_check(:'qc');
-- A cursor read in parts (produced), then a cursor that hits.
BEGIN;
DECLARE hi_cur CURSOR FOR SELECT grp, count(*) FROM hi_li WHERE id > 5 GROUP BY grp ORDER BY grp;
FETCH 2 FROM hi_cur;
FETCH ALL FROM hi_cur;
COMMIT;
BEGIN;
DECLARE hi_cur CURSOR FOR SELECT grp, count(*) FROM hi_li WHERE id > 5 GROUP BY grp ORDER BY grp;
FETCH 2 FROM hi_cur;
FETCH ALL FROM hi_cur;
COMMIT;
SELECT state, hits FROM parallel_material.shared_results WHERE query LIKE '%id > 5 GROUP BY grp%';

DROP FUNCTION hi_check(text);
DROP FUNCTION pm_share_sites(text);
DROP FUNCTION hi_jit(text);
DROP FUNCTION hi_jit_all(text);
DROP TABLE hi_li, hi_sup;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
