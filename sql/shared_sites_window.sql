-- shared_sites_window: EXPLAIN VERBOSE of window functions under the nodes the planning pass
-- adds. The pass repeats the child's output expressions in its node's scan target list (for
-- EXPLAIN); PostgreSQL 18 deparses a window function only inside its own WindowAgg (it prints
-- the window's name) and failed with "could not find window clause for winref 1" on the
-- repeated copy. Here: a shared-result site above a WindowAgg, a Material over a WindowAgg (the
-- inner of a nested loop), a window function with a FILTER and an aggregate as window function.
-- Each EXPLAIN must succeed and show the node; results equal the extension-off results.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE TABLE sw_t (id int, grp int, v numeric);
INSERT INTO sw_t SELECT g, g % 5, g * 1.5 FROM generate_series(1, 200) g;
ANALYZE sw_t;

-- EXPLAIN VERBOSE's text: does it run, how many nodes of the extension does it show (a site
-- above the plan root or a replaced Materialize), and does some Output line still name the
-- window function.
CREATE FUNCTION sw_explain(q text, OUT nodes int, OUT names_fn boolean) LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  nodes := 0; names_fn := false;
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
    IF line LIKE '%Custom Scan (ParallelMaterial)%' THEN nodes := nodes + 1; END IF;
    IF line ~ 'Output:.*(row_number|sum|count)\(' THEN names_fn := true; END IF;
  END LOOP;
END $$;

-- The same rows with the extension off and on (and on again: a hit where sharing applies).
CREATE FUNCTION sw_same(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE h_off text; h_on text; h_hit text;
BEGIN
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE format('SELECT md5(string_agg(r::text, '','' ORDER BY r::text)) FROM (%s) r', q) INTO h_off;
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE format('SELECT md5(string_agg(r::text, '','' ORDER BY r::text)) FROM (%s) r', q) INTO h_on;
  EXECUTE format('SELECT md5(string_agg(r::text, '','' ORDER BY r::text)) FROM (%s) r', q) INTO h_hit;
  RETURN h_off = h_on AND h_on = h_hit;
END $$;

-- 1. A window function at the plan root: the shared-result site sits above the WindowAgg.
\set q1 'SELECT id, grp, row_number() OVER (PARTITION BY grp ORDER BY id) rn FROM sw_t'
SELECT * FROM sw_explain(:'q1');
SELECT sw_same(:'q1');

-- 2. An aggregate as window function with a FILTER, and a named window.
\set q2 'SELECT grp, sum(v) FILTER (WHERE id > 10) OVER w s, count(*) OVER w c FROM sw_t WINDOW w AS (PARTITION BY grp)'
SELECT * FROM sw_explain(:'q2');
SELECT sw_same(:'q2');

-- 3. A Materialize directly over a WindowAgg (the inner of a nested loop): the replaced node
--    repeats the window function in its scan target list.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
SET parallel_material.share_across_sessions = off;
\set q3 'SELECT a.id, w.rn FROM sw_t a JOIN (SELECT id, row_number() OVER (ORDER BY id) rn FROM sw_t WHERE grp = 1) w ON a.id < w.rn WHERE a.grp = 2'
SELECT * FROM sw_explain(:'q3');
SELECT sw_same(:'q3');
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;
RESET parallel_material.share_across_sessions;

DROP FUNCTION sw_explain(text), sw_same(text);
DROP TABLE sw_t;
