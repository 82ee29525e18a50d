-- attack_share_hit_caches (issue 15, "cost of a hit"): what a hit now takes from a cache must
-- still follow every change that would change it.
-- 1. The walk that finds the functions a hit's unexecuted subtree calls runs once per plan (its
--    result kept in the plan); the privileges are checked at each execution. sxh_carol may
--    execute sha256 and bit_xor (revoked from PUBLIC) when she prepares her statements and hits
--    sxh_alice's entries; then her EXECUTE is revoked. Built-in functions are pinned, so her
--    cached plans are not replanned: the next hit of each must fail with stock's error.
-- 2. The key's mix of plan fingerprint and settings digest is remembered per (fingerprint,
--    digest): a session that changes extra_float_digits between two executions of one cached
--    plan must not get the entry made with the other value (stock's text each time).
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

CREATE ROLE sxh_alice LOGIN;
CREATE ROLE sxh_carol LOGIN;
CREATE TABLE sxh_t (id int, grp int, flag text, x float8);
INSERT INTO sxh_t SELECT g, g % 4, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'N' END, g / 10.0 + 0.2
  FROM generate_series(1, 2000) g;
ANALYZE sxh_t;
GRANT SELECT ON sxh_t TO sxh_alice, sxh_carol;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sha256(bytea) TO sxh_alice, sxh_carol;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO sxh_alice, sxh_carol;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sxh_t'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

\i sql/include/share_sites.psql

\set qf 'SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sxh_t GROUP BY 1, 2 ORDER BY 1, 2'
\set qa 'SELECT grp, bit_xor(id) AS b FROM sxh_t GROUP BY grp ORDER BY grp'

-- Carol prepares both while she may execute them.
SET ROLE sxh_carol;
PREPARE sxh_f AS SELECT grp, sha256(flag::bytea) AS h, count(*) AS n FROM sxh_t GROUP BY 1, 2 ORDER BY 1, 2;
PREPARE sxh_a AS SELECT grp, bit_xor(id) AS b FROM sxh_t GROUP BY grp ORDER BY grp;
RESET ROLE;
-- Alice produces the entries.
SET ROLE sxh_alice;
SELECT * FROM pm_share_sites(:'qf');
SELECT * FROM pm_share_sites(:'qa');
RESET ROLE;
-- Carol's cached plans hit them.
SET ROLE sxh_carol;
SELECT * FROM pm_share_sites('EXECUTE sxh_f');
SELECT * FROM pm_share_sites('EXECUTE sxh_a');
EXECUTE sxh_f;
EXECUTE sxh_a;
RESET ROLE;

-- Revoked: a catalog write, so alice produces new entries; carol's cached plans must fail at
-- their next execution, as stock's do.
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM sxh_carol;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM sxh_carol;
SET ROLE sxh_alice;
SELECT * FROM pm_share_sites(:'qf');
SELECT * FROM pm_share_sites(:'qa');
RESET ROLE;
SET ROLE sxh_carol;
EXECUTE sxh_f;
EXECUTE sxh_a;
SET parallel_material.enable = off;
EXECUTE sxh_f;
EXECUTE sxh_a;
SET parallel_material.enable = on;
RESET ROLE;
-- Granted again: the same cached plans hit alice's new entries.
GRANT EXECUTE ON FUNCTION sha256(bytea) TO sxh_carol;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO sxh_carol;
SET ROLE sxh_alice;
SELECT * FROM pm_share_sites(:'qf');
RESET ROLE;
SET ROLE sxh_carol;
SELECT * FROM pm_share_sites('EXECUTE sxh_f');
EXECUTE sxh_f;
DEALLOCATE sxh_f;
DEALLOCATE sxh_a;
RESET ROLE;

-- 2. Settings between executions of one cached plan, in one session.
PREPARE sxh_x AS SELECT grp, sum(x) AS s, max(x) / 3 AS m FROM sxh_t GROUP BY grp ORDER BY grp;
SET extra_float_digits = 1;
SELECT * FROM pm_share_sites('EXECUTE sxh_x');
EXECUTE sxh_x;
SET extra_float_digits = 0;
SELECT * FROM pm_share_sites('EXECUTE sxh_x');
EXECUTE sxh_x;
SET parallel_material.enable = off;
EXECUTE sxh_x;
SET parallel_material.enable = on;
SET extra_float_digits = 1;
SELECT * FROM pm_share_sites('EXECUTE sxh_x');
EXECUTE sxh_x;
SET extra_float_digits = 0;
SELECT * FROM pm_share_sites('EXECUTE sxh_x');
EXECUTE sxh_x;
RESET extra_float_digits;
DEALLOCATE sxh_x;

-- Cleanup: PUBLIC's EXECUTE back on the built-in functions.
GRANT EXECUTE ON FUNCTION sha256(bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION bit_xor(integer) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION sha256(bytea) FROM sxh_alice, sxh_carol;
REVOKE EXECUTE ON FUNCTION bit_xor(integer) FROM sxh_alice, sxh_carol;
DROP TABLE sxh_t;
DROP FUNCTION pm_share_sites(text);
DROP ROLE sxh_alice;
DROP ROLE sxh_carol;
