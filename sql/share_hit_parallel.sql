-- share_hit_parallel (issue 15): the hit of a query whose plan is TPC-H Q1's at scale factor 1
-- (a parallel plan: Finalize aggregate over Gather Merge over a Partial aggregate, costed above
-- jit_above_cost) initializes and JIT-compiles none of it, returns stock's rows, and still makes
-- every EXECUTE check that ExecInitNode of the parallel subtree would make: on the aggregates of
-- both steps, on a function in the partial aggregate's arguments and in the parallel scan's
-- filter (below the Gather Merge). hp_alice produces, hp_bob (no EXECUTE) gets stock's error at
-- each statement, also through a prepared statement, hp_carol (granted) hits the same entries.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE ROLE hp_alice LOGIN;
CREATE ROLE hp_bob LOGIN;
CREATE ROLE hp_carol LOGIN;
CREATE TABLE hp_li (id int, grp int, qty numeric, flag text);
INSERT INTO hp_li SELECT g, g % 6, (g % 50) * 1.25, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'N' END
  FROM generate_series(1, 20000) g;
ANALYZE hp_li;
GRANT SELECT ON hp_li TO hp_alice, hp_bob, hp_carol;
-- Every grant before the first shared run: a catalog write makes new keys.
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION int4xor(integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO hp_alice, hp_carol;
GRANT EXECUTE ON FUNCTION int4xor(integer, integer) TO hp_alice, hp_carol;
GRANT EXECUTE ON FUNCTION sha256(bytea) TO hp_alice, hp_carol;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('hp_li'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- SF 1's decisions on small data: a parallel plan, JIT-compiled by cost.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = -1;
SET jit_optimize_above_cost = -1;

-- The plan's shape (EXPLAIN without ANALYZE: nothing runs): a Gather or Gather Merge and a
-- partial aggregate below the whole-result site.
CREATE FUNCTION hp_shape(q text) RETURNS TABLE (site text, parallel boolean, partial_agg boolean)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY SELECT plan->0->'Plan'->>'Shared Site',
                      jsonb_path_exists(plan, 'strict $.** ? (@."Node Type" like_regex "^Gather")'),
                      jsonb_path_exists(plan, 'strict $.** ? (@."Partial Mode" == "Partial")');
END $$;
-- What the whole-result site's run did, and whether JIT compiled anything for the query
-- (without JIT in the server, as PostgreSQL 18 is built here, nothing is ever compiled).
CREATE FUNCTION hp_run(q text) RETURNS TABLE (sharing text, compiled boolean)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS ON, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY SELECT plan->0->'Plan'->>'Cross-Session Sharing',
                      coalesce((plan->0->'JIT'->>'Functions')::int, 0) > 0;
END $$;
GRANT EXECUTE ON FUNCTION hp_shape(text), hp_run(text) TO PUBLIC;
\i sql/include/query_rows.psql

-- Q1's shape with an aggregate hp_bob may not execute (both aggregation steps call it).
\set qa 'SELECT flag, grp, sum(qty) AS s, sum(qty * (1 - qty / 100)) AS d, avg(qty) AS a, bit_xor(id) AS x, count(*) AS n FROM hp_li WHERE id <= 19000 GROUP BY flag, grp ORDER BY flag, grp'
-- An operator's function only in the partial aggregate's arguments (below the Gather Merge).
\set qo 'SELECT grp, sum(id # 5) AS s, avg(qty) AS a, count(*) AS n FROM hp_li GROUP BY grp ORDER BY grp'
-- A function only in the parallel scan's filter.
\set qf 'SELECT grp, sum(qty) AS s, count(*) AS n FROM hp_li WHERE sha256(flag::bytea) <> ''\\x00''::bytea GROUP BY grp ORDER BY grp'

SET ROLE hp_alice;
SELECT * FROM hp_shape(:'qa');
SELECT * FROM hp_shape(:'qo');
SELECT * FROM hp_shape(:'qf');
-- Produced (compiled where the server has JIT), then hit (nothing compiled), stock's rows.
SELECT sharing, compiled = pg_jit_available() AS compiled_as_stock FROM hp_run(:'qa');
SELECT * FROM hp_run(:'qa');
SELECT sharing, compiled = pg_jit_available() AS compiled_as_stock FROM hp_run(:'qo');
SELECT * FROM hp_run(:'qo');
SELECT sharing, compiled = pg_jit_available() AS compiled_as_stock FROM hp_run(:'qf');
SELECT * FROM hp_run(:'qf');
SELECT pm_query_rows(:'qa', true) = pm_query_rows(:'qa', false) AS same_rows_a,
       pm_query_rows(:'qo', true) = pm_query_rows(:'qo', false) AS same_rows_o,
       pm_query_rows(:'qf', true) = pm_query_rows(:'qf', false) AS same_rows_f;
-- Stock compiles the same plan.
SET parallel_material.enable = off;
SELECT sharing, compiled = pg_jit_available() AS compiled_as_stock FROM hp_run(:'qa');
SET parallel_material.enable = on;
RESET ROLE;

-- hp_bob: every query fails as stock fails, although a ready entry has its key.
SET ROLE hp_bob;
PREPARE hp_prep AS SELECT grp, sum(id # 5) AS s, avg(qty) AS a, count(*) AS n FROM hp_li GROUP BY grp ORDER BY grp;
:qa;
:qo;
:qf;
SELECT * FROM hp_run(:'qa');
EXECUTE hp_prep;
EXECUTE hp_prep;
BEGIN;
DECLARE hp_cur CURSOR FOR SELECT flag, grp, sum(qty) AS s, sum(qty * (1 - qty / 100)) AS d, avg(qty) AS a, bit_xor(id) AS x, count(*) AS n FROM hp_li WHERE id <= 19000 GROUP BY flag, grp ORDER BY flag, grp;
ROLLBACK;
SET parallel_material.enable = off;
:qa;
:qo;
:qf;
EXECUTE hp_prep;
SET parallel_material.enable = on;
DEALLOCATE hp_prep;
RESET ROLE;

-- hp_carol, granted, hits hp_alice's entries (the path hp_bob took), compiling nothing.
SET ROLE hp_carol;
SELECT * FROM hp_run(:'qa');
SELECT * FROM hp_run(:'qo');
SELECT * FROM hp_run(:'qf');
PREPARE hp_prep AS SELECT grp, sum(id # 5) AS s, avg(qty) AS a, count(*) AS n FROM hp_li GROUP BY grp ORDER BY grp;
EXECUTE hp_prep;
SET parallel_material.enable = off;
EXECUTE hp_prep;
SET parallel_material.enable = on;
DEALLOCATE hp_prep;
SELECT pm_query_rows(:'qa', true) = pm_query_rows(:'qa', false) AS same_rows_a;
RESET ROLE;
-- One entry per query, each hit.
SELECT count(*) AS entries, bool_and(state = 'ready') AS ready, bool_and(hits > 0) AS hit
  FROM parallel_material.shared_results;

-- Cleanup: PUBLIC's EXECUTE back on the built-in functions.
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION int4xor(integer, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION sha256(bytea) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM hp_alice, hp_carol;
REVOKE EXECUTE ON FUNCTION int4xor(integer, integer) FROM hp_alice, hp_carol;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM hp_alice, hp_carol;
DROP FUNCTION hp_shape(text);
DROP FUNCTION hp_run(text);
DROP FUNCTION pm_query_rows(text, boolean);
DROP TABLE hp_li;
DROP ROLE hp_alice;
DROP ROLE hp_bob;
DROP ROLE hp_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
