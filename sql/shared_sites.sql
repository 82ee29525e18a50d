-- shared_sites: cross-session sharing of plan roots (issue 6): the whole result of a read-only
-- query, MATERIALIZED CTEs and uncorrelated InitPlans. The planning pass puts a serial
-- ParallelMaterial node ("Shared Site: ...") above each candidate; EXPLAIN VERBOSE says whether
-- it may be shared and why not; the second identical run hits (nothing below the node runs) and
-- returns the rows of a run without the extension; a committed write makes the next run
-- recompute.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE TABLE ss_li (id int, grp int, qty numeric, flag text);
INSERT INTO ss_li SELECT g, g % 6, (g % 50) * 1.25, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'N' END
  FROM generate_series(1, 3000) g;
CREATE TABLE ss_sup (id int, name text);
INSERT INTO ss_sup SELECT g, 's' || g FROM generate_series(0, 5) g;
ANALYZE ss_li, ss_sup;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('ss_li'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- Every sharing site of a plan: (site, what EXPLAIN ANALYZE says it did, rows its child
-- produced, rows it read from a shared entry), in plan order.
CREATE FUNCTION ss_sites(q text) RETURNS TABLE (site text, sharing text, produced int, read int)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY
    SELECT value->>'Shared Site', value->>'Cross-Session Sharing',
           (value->>'Rows Produced')::int, (value->>'Rows Read')::int
      FROM jsonb_path_query(plan, 'strict $.**') AS value
     WHERE jsonb_typeof(value) = 'object' AND value ? 'Shared Site';
END $$;
-- Whether any node below a hit ran: the number of plan nodes that executed at least once,
-- other than the sharing sites.
CREATE FUNCTION ss_ran(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE plan jsonb; n int;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  SELECT count(*) INTO n FROM jsonb_path_query(plan, 'strict $.**') AS value
   WHERE jsonb_typeof(value) = 'object' AND value ? 'Node Type' AND NOT value ? 'Shared Site'
     AND (value->>'Actual Loops')::int > 0;
  RETURN n;
END $$;
-- pm_query_rows(q, ext): the query's rows (hashed in a fixed order) with the extension on or off.
\i sql/include/query_rows.psql

-- ---- the whole result of a query (a Q1-like aggregate) ----
\set q1 'SELECT flag, grp, sum(qty) AS s, count(*) AS n FROM ss_li WHERE id <= 2900 GROUP BY flag, grp ORDER BY flag, grp'
EXPLAIN (VERBOSE, COSTS OFF) :q1;
SELECT * FROM ss_sites(:'q1');
SELECT * FROM ss_sites(:'q1');
SELECT ss_ran(:'q1') AS nodes_run_on_hit;
:q1;
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows_produced;
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows_hit;
-- A committed write of the table: the next run recomputes, with the new rows.
INSERT INTO ss_li VALUES (1, 1, 1000, 'A');
SELECT * FROM ss_sites(:'q1');
SELECT * FROM ss_sites(:'q1');
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows_after_write;
-- The writer's own uncommitted rows bypass sharing (and its query sees them).
BEGIN;
INSERT INTO ss_li VALUES (2, 2, 1000, 'A');
SELECT * FROM ss_sites(:'q1');
SELECT pm_query_rows(:'q1', true) = pm_query_rows(:'q1', false) AS same_rows_in_writer;
ROLLBACK;
SELECT * FROM ss_sites(:'q1');

-- ---- a MATERIALIZED CTE and an uncorrelated InitPlan (a Q15-like query) ----
\set q15 'WITH rev AS MATERIALIZED (SELECT grp AS sup, sum(qty) AS total FROM ss_li WHERE flag = ''N'' GROUP BY grp) SELECT s.id, s.name, r.total FROM ss_sup s JOIN rev r ON s.id = r.sup WHERE r.total = (SELECT max(total) FROM rev) ORDER BY s.id'
EXPLAIN (VERBOSE, COSTS OFF) :q15;
SELECT * FROM ss_sites(:'q15');
SELECT * FROM ss_sites(:'q15');
SELECT pm_query_rows(:'q15', true) = pm_query_rows(:'q15', false) AS same_rows_q15;
-- Without the whole-result site the CTE and the InitPlan hit by themselves.
SET parallel_material.share_whole_results = off;
SELECT * FROM ss_sites(:'q15');
SELECT * FROM ss_sites(:'q15');
-- Another outer query with the same CTE text: its own entry (range-table positions are part of
-- the fingerprint, and the CTE's table has another position here: a lost chance, never wrong).
SELECT * FROM ss_sites('WITH rev AS MATERIALIZED (SELECT grp AS sup, sum(qty) AS total FROM ss_li WHERE flag = ''N'' GROUP BY grp) SELECT count(*) FROM rev');
RESET parallel_material.share_whole_results;
-- An uncorrelated InitPlan alone.
\set qi 'SELECT id FROM ss_sup WHERE id > (SELECT avg(grp) FROM ss_li WHERE qty > 30) ORDER BY id'
SELECT * FROM ss_sites(:'qi');
SET parallel_material.share_whole_results = off;
SELECT * FROM ss_sites(:'qi');
SELECT * FROM ss_sites(:'qi');
RESET parallel_material.share_whole_results;
-- EXISTS InitPlans stop at their first row: not a site.
SELECT count(*) AS sites FROM ss_sites('SELECT id FROM ss_sup WHERE EXISTS (SELECT 1 FROM ss_li WHERE qty > 60)');

-- ---- a whole result whose reader stops after the first row ----
-- PL/pgSQL SELECT INTO asks the executor for one row: the producer checks at its end whether
-- the result is complete (one more call of its child) and publishes it if so; the next run hits.
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
DO $$ DECLARE s numeric; BEGIN SELECT sum(qty) INTO s FROM ss_li WHERE grp = 2; END $$;
DO $$ DECLARE s numeric; BEGIN SELECT sum(qty) INTO s FROM ss_li WHERE grp = 2; END $$;
SELECT state, rows, hits FROM parallel_material.shared_results WHERE query LIKE '%grp = 2%';
-- A result of several rows read only in part is never published (nothing is shared).
DO $$ DECLARE g int; BEGIN SELECT grp INTO g FROM ss_li GROUP BY grp ORDER BY grp; END $$;
BEGIN;
DECLARE ss_part CURSOR FOR SELECT grp, count(*) FROM ss_li GROUP BY grp ORDER BY grp;
FETCH 2 FROM ss_part;
CLOSE ss_part;
COMMIT;
SELECT count(*) AS entries FROM parallel_material.shared_results WHERE query LIKE '%GROUP BY grp ORDER BY grp%';
-- ... also when the transaction aborts with the cursor open.
BEGIN;
DECLARE ss_part2 CURSOR FOR SELECT grp, count(*) FROM ss_li GROUP BY grp ORDER BY grp;
FETCH 1 FROM ss_part2;
ROLLBACK;
SELECT count(*) AS entries FROM parallel_material.shared_results WHERE query LIKE '%GROUP BY grp ORDER BY grp%';

-- ---- not shared, and why ----
SELECT verdict FROM parallel_material.share_verdicts('SELECT grp, sum(qty) * random() FROM ss_li GROUP BY grp');
SELECT verdict FROM parallel_material.share_verdicts('SELECT grp, count(*), now() FROM ss_li GROUP BY grp');
SELECT verdict FROM parallel_material.share_verdicts('SELECT s.name, l.qty FROM ss_sup s JOIN ss_li l ON l.id = s.id ORDER BY 1 FOR UPDATE OF s');
CREATE TEMP TABLE ss_tmp AS SELECT * FROM ss_sup;
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM ss_tmp');
CREATE UNLOGGED TABLE ss_unl AS SELECT * FROM ss_sup;
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM ss_unl');
CREATE TABLE ss_rls AS SELECT * FROM ss_sup;
ALTER TABLE ss_rls ENABLE ROW LEVEL SECURITY;
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM ss_rls');
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM pg_class');
-- A writing CTE: the statement writes.
SELECT verdict FROM parallel_material.share_verdicts('WITH w AS (INSERT INTO ss_sup VALUES (99, ''x'') RETURNING id) SELECT count(*) FROM w');
-- A correlated CTE reference is impossible; a correlated subquery is a SubPlan, not a site:
SELECT count(*) AS sites FROM ss_sites('SELECT id, (SELECT max(qty) FROM ss_li l WHERE l.grp = s.id) FROM ss_sup s WHERE id < 0');
-- A volatile CTE cannot be shared, nor the result above it: stock's plan, no node added
-- (issue 12); share_verdicts says why.
SELECT verdict FROM parallel_material.share_verdicts('WITH v AS MATERIALIZED (SELECT id, random() AS r FROM ss_sup) SELECT count(*) FROM v WHERE r >= 0');
EXPLAIN (VERBOSE, COSTS OFF) WITH v AS MATERIALIZED (SELECT id, random() AS r FROM ss_sup) SELECT count(*) FROM v WHERE r >= 0;
SELECT * FROM ss_sites('WITH v AS MATERIALIZED (SELECT id, random() AS r FROM ss_sup) SELECT count(*) FROM v WHERE r >= 0');

-- ---- no site where a node above the root would change what the plan can do ----
-- A plain scan (WHERE CURRENT OF finds its scan through Result/Limit/Append): no whole-result
-- node, and a cursor over it still updates through WHERE CURRENT OF.
SELECT count(*) AS sites FROM ss_sites('SELECT * FROM ss_sup WHERE id < 3');
BEGIN;
DECLARE ss_c CURSOR FOR SELECT * FROM ss_sup WHERE id = 4;
FETCH ss_c;
UPDATE ss_sup SET name = 'cur' WHERE CURRENT OF ss_c;
SELECT name FROM ss_sup WHERE id = 4;
ROLLBACK;
-- A scrollable cursor over an aggregate: the planner's Material stays at the top (the root is
-- already a ParallelMaterial node), and scrolling works.
BEGIN;
DECLARE ss_s SCROLL CURSOR FOR SELECT grp, count(*) FROM ss_li GROUP BY grp ORDER BY grp;
FETCH 2 FROM ss_s;
FETCH PRIOR FROM ss_s;
FETCH LAST FROM ss_s;
COMMIT;
-- share_across_sessions off: no site at all.
SET parallel_material.share_across_sessions = off;
SELECT count(*) AS sites FROM ss_sites(:'q15');
RESET parallel_material.share_across_sessions;

SELECT parallel_material.reset_shared_results() > 0 AS dropped;
DROP TABLE ss_li, ss_sup, ss_tmp, ss_unl, ss_rls;
DROP FUNCTION ss_sites(text), ss_ran(text), pm_query_rows(text, boolean);
