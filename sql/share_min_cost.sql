-- share_min_cost (issue 12, noise and floods): admission to cross-session sharing by estimated
-- cost. A candidate whose plan costs less than parallel_material.share_min_cost (default 1000)
-- keeps stock's plan: no node (so no fingerprint, no registry entry); share_verdicts() says why.
-- Dearer candidates of the same query still share; share_min_cost = 0 shares the cheap ones too.
-- Each site is decided on its own plan's cost (a cheap MATERIALIZED CTE under a dear whole
-- result). A role may lower it for itself (PGC_USERSET): its entries stay within its share of
-- shared_memory, and a flood of its one-shot entries does not evict reused ones (segmented LRU).
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
SHOW parallel_material.share_min_cost;

CREATE TABLE mc_small (id int, grp int);
INSERT INTO mc_small SELECT g, g % 5 FROM generate_series(1, 50) g;
CREATE TABLE mc_big (id int, grp int, qty numeric);
INSERT INTO mc_big SELECT g, g % 5, g % 97 FROM generate_series(1, 100000) g;
ANALYZE mc_small, mc_big;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT bool_and(skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon')
                 FROM (SELECT skip_reason FROM parallel_material.data_version_info('mc_small')
                       UNION ALL
                       SELECT skip_reason FROM parallel_material.data_version_info('mc_big')) s);
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- (site, sharing) of every sharing node of a plan run under EXPLAIN ANALYZE, in plan order;
-- and the total cost of a plan (to show where each query stands against the threshold).
\i sql/include/share_sites.psql
CREATE FUNCTION mc_cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  SET LOCAL parallel_material.share_across_sessions = off;
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN (plan->0->'Plan'->>'Total Cost')::float8;
END $$;

\set qcheap 'SELECT grp, count(*) FROM mc_small GROUP BY grp ORDER BY grp'
\set qdear 'SELECT grp, sum(qty) FROM mc_big GROUP BY grp ORDER BY grp'
\set qmixed 'WITH c AS MATERIALIZED (SELECT DISTINCT grp FROM mc_small) SELECT b.grp, count(*) FROM mc_big b JOIN c ON b.grp = c.grp GROUP BY b.grp ORDER BY b.grp'
SELECT mc_cost(:'qcheap') < 1000 AS cheap_below, mc_cost(:'qdear') > 1000 AS dear_above;

-- The cheap query: stock's plan (no node at all), the verdict names the setting, no entry.
SELECT verdict FROM parallel_material.share_verdicts(:'qcheap');
EXPLAIN (VERBOSE, COSTS OFF) :qcheap;
SELECT count(*) AS cheap_sites FROM pm_share_sites(:'qcheap');
:qcheap;
:qcheap;
SELECT count(*) AS entries_after_cheap FROM parallel_material.shared_results;

-- The dear query: shared as before (produced, then hit).
SELECT verdict FROM parallel_material.share_verdicts(:'qdear');
SELECT * FROM pm_share_sites(:'qdear');
SELECT * FROM pm_share_sites(:'qdear');
:qdear;
SELECT count(*) AS entries_after_dear FROM parallel_material.shared_results;

-- Each site on its own cost: the whole result is shared, its cheap CTE gets no node.
SELECT verdict FROM parallel_material.share_verdicts(:'qmixed');
SELECT * FROM pm_share_sites(:'qmixed');
:qmixed;

-- A lower threshold (any role may lower it for its own queries) shares the cheap query too.
SET parallel_material.share_min_cost = 0;
SELECT verdict FROM parallel_material.share_verdicts(:'qcheap');
SELECT * FROM pm_share_sites(:'qcheap');
SELECT * FROM pm_share_sites(:'qcheap');
SELECT verdict FROM parallel_material.share_verdicts(:'qmixed');
-- A higher one keeps even the dear query out.
SET parallel_material.share_min_cost = 1e9;
SELECT verdict FROM parallel_material.share_verdicts(:'qdear');
SELECT count(*) AS dear_sites_at_1e9 FROM pm_share_sites(:'qdear');
RESET parallel_material.share_min_cost;

-- A login role lowers it for itself only: another role's session keeps the default.
CREATE ROLE pm_mc_alice LOGIN;
CREATE ROLE pm_mc_bob LOGIN;
GRANT SELECT ON mc_small TO pm_mc_alice, pm_mc_bob;
GRANT EXECUTE ON FUNCTION pm_share_sites(text) TO pm_mc_alice, pm_mc_bob;
ALTER ROLE pm_mc_alice SET parallel_material.enable = on;
ALTER ROLE pm_mc_bob SET parallel_material.enable = on;
ALTER ROLE pm_mc_alice SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_mc_bob SET parallel_material.share_across_sessions = on;
\c - pm_mc_alice
SET parallel_material.share_min_cost = 0;
SELECT * FROM pm_share_sites(:'qcheap');
\c - pm_mc_bob
SHOW parallel_material.share_min_cost;
SELECT count(*) AS bob_cheap_sites FROM pm_share_sites(:'qcheap');
:qcheap;
\c - postgres

SELECT parallel_material.reset_shared_results() >= 0 AS reset;
DROP FUNCTION pm_share_sites(text), mc_cost(text);
DROP TABLE mc_small, mc_big;
DROP OWNED BY pm_mc_alice, pm_mc_bob;
DROP ROLE pm_mc_alice, pm_mc_bob;
