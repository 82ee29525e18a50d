-- material_subplan_operand (issue 15): an ANY/ALL SubPlan over a ParallelMaterial node compares a
-- numeric outer value with every materialized row; on PostgreSQL 15 the planning pass makes the
-- SubPlan unpack that value once per outer row (an argument `numeric(x, -1)`) instead of in every
-- comparison (src/pg/material/subplan_operand.cpp). Checked here:
--  1. rows identical to stock for ALL/ANY, in a filter and in the select list, with NULL, NaN,
--     infinities and equal values of different scales on both sides, serial and parallel;
--  2. privileges: with EXECUTE on numeric(numeric, integer) revoked from PUBLIC, a role without
--     it gets stock's rows (the rewrite is skipped, not an error), also from a prepared plan
--     made by a role that has it (the plan depends on the role) and from a plan prepared before
--     the REVOKE (the plan depends on the function's catalog row).
-- On 17 and 18 nothing is rewritten (EXPLAIN would show it) and every check passes the same.
CREATE TABLE so_outer AS
  SELECT g AS id,
         CASE WHEN g % 17 = 0 THEN NULL
              WHEN g % 19 = 0 THEN 'NaN'::numeric
              WHEN g % 23 = 0 THEN 'Infinity'::numeric
              WHEN g % 29 = 0 THEN '-Infinity'::numeric
              WHEN g % 31 = 0 THEN 1.500
              ELSE (g % 500)::numeric(10,2) / 3 END AS v
  FROM generate_series(1, 3000) g;
CREATE TABLE so_inner AS
  SELECT g AS k, (g % 200)::numeric(12,3) AS n,
         CASE WHEN g % 97 = 0 THEN NULL ELSE (g % 300)::numeric / 2 END AS m
  FROM generate_series(1, 5000) g;
ALTER TABLE so_inner SET (parallel_workers = 0);
ANALYZE so_outer, so_inner;
SET parallel_material.enable = on;

-- q's rows (sorted text, md5) with the extension and with it off: equal?
CREATE FUNCTION so_same(q text) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- Whether q's plan has a ParallelMaterial node under a SubPlan (the case being tested).
CREATE FUNCTION so_material(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN jsonb_path_exists(plan, 'strict $.** ? (@."Parent Relationship" == "SubPlan" && @."Custom Plan Provider" == "ParallelMaterial")');
END $$;

CREATE TABLE so_queries (name text, q text);
INSERT INTO so_queries VALUES
  ('lt_all', 'SELECT count(*) FROM so_outer WHERE v < ALL (SELECT avg(n) - 20 FROM so_inner GROUP BY k % 50)'),
  ('ge_all_list', 'SELECT id, v >= ALL (SELECT avg(n) FROM so_inner GROUP BY k % 40) FROM so_outer'),
  ('gt_any_list', 'SELECT id, v > ANY (SELECT max(n) + 30 FROM so_inner GROUP BY k % 30) FROM so_outer'),
  ('le_any_nulls', 'SELECT id, v <= ANY (SELECT m FROM so_inner WHERE k % 10 = 0 OFFSET 0) FROM so_outer'),
  ('ne_all_nulls', 'SELECT id, v <> ALL (SELECT m FROM so_inner WHERE k < 400 OFFSET 0) FROM so_outer'),
  ('param_left', 'SELECT count(*) FROM so_outer WHERE (SELECT 1) = 1 AND v * 1 < ALL (SELECT avg(n) FROM so_inner GROUP BY k % 50)'),
  ('empty', 'SELECT id, v < ALL (SELECT n FROM so_inner WHERE k < 0 OFFSET 0) FROM so_outer');

-- 1. serial
SET max_parallel_workers_per_gather = 0;
SELECT name, so_material(q) AS material, so_same(q) AS same FROM so_queries ORDER BY name;
-- 1b. parallel: every participant compares (the SubPlan runs in the workers)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT name, so_material(q) AS material, so_same(q) AS same FROM so_queries ORDER BY name;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- 2. privileges
CREATE ROLE so_plain LOGIN;
GRANT SELECT ON so_outer, so_inner TO so_plain;
\set q 'SELECT count(*) FROM so_outer WHERE v < ALL (SELECT avg(n) - 20 FROM so_inner GROUP BY k % 50)'
SET parallel_material.enable = off;
:q;
SET parallel_material.enable = on;
-- a plan prepared while every role may execute numeric(numeric, integer)
SET ROLE so_plain;
PREPARE so_before AS SELECT count(*) FROM so_outer WHERE v < ALL (SELECT avg(n) - 20 FROM so_inner GROUP BY k % 50);
EXECUTE so_before;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pg_catalog."numeric"(numeric, integer) FROM PUBLIC;
-- a plan prepared by a role that keeps the privilege (the superuser), after the REVOKE
PREPARE so_super AS SELECT count(*) FROM so_outer WHERE v < ALL (SELECT avg(n) - 20 FROM so_inner GROUP BY k % 50);
EXECUTE so_super;
SET ROLE so_plain;
-- each gives stock's count, never "permission denied for function numeric"
:q;
EXECUTE so_before;
EXECUTE so_super;
RESET ROLE;
EXECUTE so_super;
GRANT EXECUTE ON FUNCTION pg_catalog."numeric"(numeric, integer) TO PUBLIC;
DEALLOCATE so_before;
DEALLOCATE so_super;

DROP OWNED BY so_plain;
DROP ROLE so_plain;
DROP TABLE so_queries;
DROP FUNCTION so_material(text);
DROP FUNCTION so_same(text);
DROP TABLE so_outer, so_inner;
