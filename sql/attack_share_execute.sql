-- attack_share_execute (issue 15): a shared hit does not initialize the subtree it does not run,
-- and ExecInitNode of that subtree is where PostgreSQL checks EXECUTE on the functions it calls.
-- sx_alice may execute sha256(bytea), the operator # (int4xor) and the aggregate bit_xor, from
-- which PUBLIC's EXECUTE was revoked; she produces shared results that call them. sx_bob may
-- read the table but not execute them: his identical queries must fail as in stock ("permission
-- denied for function ..." / "... for aggregate ..."), at the same statement (a cursor's
-- DECLARE), also through a cached plan. sx_carol, granted EXECUTE, hits the same entries: the
-- path checked for bob is the hit path (every grant comes first: a catalog write makes new keys).
-- Table privileges stay checked for the whole range table (sx_priv, which bob may not read).
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE ROLE sx_alice LOGIN;
CREATE ROLE sx_bob LOGIN;
CREATE ROLE sx_carol LOGIN;
CREATE TABLE sx_t (id int, grp int, flag text);
INSERT INTO sx_t SELECT g, g % 4, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'N' END
  FROM generate_series(1, 2000) g;
ANALYZE sx_t;
GRANT SELECT ON sx_t TO sx_alice, sx_bob, sx_carol;
-- Table privileges are checked for the whole range table by ExecutorStart (ExecCheckRTPerms),
-- initialized or not: sx_priv is readable by alice and carol only.
CREATE TABLE sx_priv AS SELECT g AS id, g % 3 AS grp FROM generate_series(1, 300) g;
ANALYZE sx_priv;
GRANT SELECT ON sx_priv TO sx_alice, sx_carol;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION int4xor(integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sha256(bytea) TO sx_alice;
GRANT EXECUTE ON FUNCTION int4xor(integer, integer) TO sx_alice;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO sx_alice;
GRANT EXECUTE ON FUNCTION sha256(bytea) TO sx_carol;
GRANT EXECUTE ON FUNCTION int4xor(integer, integer) TO sx_carol;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO sx_carol;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sx_t'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

-- Every sharing site of a plan: (site, what its last run did), in plan order.
\i sql/include/share_sites.psql

-- Every node's sharing outcome (Material sites included).
CREATE FUNCTION sx_sharing(q text) RETURNS TABLE (sharing text)
LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
  RETURN QUERY
    SELECT value->>'Cross-Session Sharing'
      FROM jsonb_path_query(plan, 'strict $.**') AS value
     WHERE jsonb_typeof(value) = 'object' AND value ? 'Cross-Session Sharing';
END $$;

-- A function (whole result), an operator's function (whole result), an aggregate in an InitPlan
-- site and a function in a MATERIALIZED CTE site.
\set qf 'SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sx_t GROUP BY 1, 2 ORDER BY 1, 2'
\set qo 'SELECT grp, sum(id # 5) AS s FROM sx_t GROUP BY grp ORDER BY grp'
\set qa 'SELECT grp FROM sx_t WHERE id = (SELECT bit_xor(id) FROM sx_t WHERE id < 50) ORDER BY grp'
-- A Material site (a nested loop's inner) over an aggregate that calls bit_xor.
\set qm 'SELECT a.grp, count(*) AS n FROM sx_t a JOIN (SELECT grp, bit_xor(id) AS x FROM sx_t GROUP BY grp) g ON g.x > a.id GROUP BY a.grp ORDER BY a.grp'
\set qt 'SELECT grp, count(*) AS n FROM sx_priv GROUP BY grp ORDER BY grp'
\set qc 'WITH c AS MATERIALIZED (SELECT grp, sha256(flag::bytea) AS h FROM sx_t WHERE id < 40) SELECT count(*) FROM c a JOIN c b USING (grp, h)'

SET ROLE sx_alice;
SELECT * FROM pm_share_sites(:'qt');
SELECT * FROM pm_share_sites(:'qt');
SELECT * FROM pm_share_sites(:'qf');
SELECT * FROM pm_share_sites(:'qf');
SELECT * FROM pm_share_sites(:'qo');
SELECT * FROM pm_share_sites(:'qo');
SELECT * FROM pm_share_sites(:'qa');
SELECT * FROM pm_share_sites(:'qa');
SELECT * FROM pm_share_sites(:'qc');
SELECT * FROM pm_share_sites(:'qc');
:qa;
-- The InitPlan and CTE sites by themselves (no whole-result site above them).
SET parallel_material.share_whole_results = off;
SELECT * FROM pm_share_sites(:'qa');
SELECT * FROM pm_share_sites(:'qc');
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT * FROM sx_sharing(:'qm');
SELECT * FROM sx_sharing(:'qm');
RESET enable_hashjoin;
RESET enable_mergejoin;
SET parallel_material.share_whole_results = on;
RESET ROLE;

-- Bob, with sharing: every query fails as stock fails (below), although an entry is ready.
SET ROLE sx_bob;
PREPARE sx_prep AS SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sx_t GROUP BY 1, 2 ORDER BY 1, 2;
:qt;
:qf;
:qo;
:qa;
:qc;
SELECT * FROM pm_share_sites(:'qf');
-- A cursor fails at DECLARE (ExecutorStart), as in stock.
BEGIN;
DECLARE sx_cur CURSOR FOR SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sx_t GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK;
SET parallel_material.share_whole_results = off;
:qa;
:qc;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
:qm;
SET parallel_material.enable = off;
:qm;
SET parallel_material.enable = on;
RESET enable_hashjoin;
RESET enable_mergejoin;
SET parallel_material.share_whole_results = on;
-- A prepared statement, at each execution (its plan is cached: the check is per start).
EXECUTE sx_prep;
EXECUTE sx_prep;
-- Stock: the same errors.
SET parallel_material.enable = off;
:qt;
:qf;
:qo;
:qa;
:qc;
BEGIN;
DECLARE sx_cur CURSOR FOR SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sx_t GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK;
EXECUTE sx_prep;
SET parallel_material.enable = on;
DEALLOCATE sx_prep;
RESET ROLE;

-- Carol, who may execute them, hits alice's entries (the path bob took), with stock's rows.
SET ROLE sx_carol;
SELECT * FROM pm_share_sites(:'qt');
SELECT * FROM pm_share_sites(:'qf');
SELECT * FROM pm_share_sites(:'qo');
SELECT * FROM pm_share_sites(:'qa');
SELECT * FROM pm_share_sites(:'qc');
SET parallel_material.share_whole_results = off;
SELECT * FROM pm_share_sites(:'qa');
SELECT * FROM pm_share_sites(:'qc');
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT * FROM sx_sharing(:'qm');
RESET enable_hashjoin;
RESET enable_mergejoin;
SET parallel_material.share_whole_results = on;
PREPARE sx_prep AS SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sx_t GROUP BY 1, 2 ORDER BY 1, 2;
EXECUTE sx_prep;
SET parallel_material.enable = off;
EXECUTE sx_prep;
SET parallel_material.enable = on;
DEALLOCATE sx_prep;
RESET ROLE;

-- Cleanup: PUBLIC's EXECUTE back on the built-in functions.
GRANT EXECUTE ON FUNCTION sha256(bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION int4xor(integer, integer) TO PUBLIC;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM sx_alice;
REVOKE EXECUTE ON FUNCTION int4xor(integer, integer) FROM sx_alice;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM sx_alice;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM sx_carol;
REVOKE EXECUTE ON FUNCTION int4xor(integer, integer) FROM sx_carol;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM sx_carol;
DROP FUNCTION pm_share_sites(text);
DROP FUNCTION sx_sharing(text);
DROP TABLE sx_t, sx_priv;
DROP ROLE sx_alice;
DROP ROLE sx_bob;
DROP ROLE sx_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
