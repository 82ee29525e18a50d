-- attack_share_syscols: system columns change without a write that the data versions count
-- (a row lock or an aborted update sets xmax, VACUUM FULL moves ctid): a shared result holding
-- them would be served stale (issue 12, item 1; an UPDATE ... WHERE ctid = ... built from a
-- stale ctid changes another row). alice produces results with ctid/xmin/xmax; bob locks a row,
-- aborts an update and VACUUM FULLs the table; carol must get stock's values.
SET client_min_messages = warning;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
CREATE ROLE pm_sys_alice LOGIN;
CREATE ROLE pm_sys_bob LOGIN;
CREATE ROLE pm_sys_carol LOGIN;
ALTER ROLE pm_sys_alice SET parallel_material.enable = on;
ALTER ROLE pm_sys_bob SET parallel_material.enable = on;
ALTER ROLE pm_sys_carol SET parallel_material.enable = on;
ALTER ROLE pm_sys_alice SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_sys_alice SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_sys_bob SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_sys_bob SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_sys_carol SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_sys_carol SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_sys_alice SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_sys_bob SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_sys_carol SET max_parallel_workers_per_gather = 0;

CREATE TABLE pm_sys_t (id int, v text);
INSERT INTO pm_sys_t SELECT g, 'v' || g FROM generate_series(1, 6) g;
-- A dead version at the start of the table, so that VACUUM FULL moves the rows after it.
UPDATE pm_sys_t SET v = 'w1' WHERE id = 1;
ANALYZE pm_sys_t;
GRANT SELECT ON pm_sys_t TO pm_sys_alice, pm_sys_carol;
GRANT SELECT, UPDATE ON pm_sys_t TO pm_sys_bob;
ALTER TABLE pm_sys_t OWNER TO pm_sys_bob;
\i sql/include/attack_share.psql
SELECT pm_wait_tracking('pm_sys_t');

\set qx 'SELECT id, xmax <> ''0''::xid AS touched FROM pm_sys_t WHERE id <= 3 ORDER BY id'
\set qc 'SELECT id, ctid FROM pm_sys_t WHERE id >= 4 ORDER BY id'
\set qn 'SELECT id, cmin = cmax AS same FROM pm_sys_t WHERE xmin <> ''1''::xid ORDER BY id'

-- alice: the results, before anything happened.
\c - pm_sys_alice
SET client_min_messages = warning;
SELECT pm_site(:'qx') AS alice_x, pm_site(:'qc') AS alice_c, pm_site(:'qn') AS alice_n;
:qx;
:qc;

-- bob: locks row 1 and aborts an update of row 2 (xmax of both changes, no row does).
\c - pm_sys_bob
SET client_min_messages = warning;
BEGIN;
SELECT id FROM pm_sys_t WHERE id = 1 FOR UPDATE;
COMMIT;
BEGIN;
UPDATE pm_sys_t SET v = 'x' WHERE id = 2;
ROLLBACK;

-- carol: xmax of rows 1 and 2 as stock sees them.
\c - pm_sys_carol
SET client_min_messages = warning;
:qx;
SET parallel_material.enable = off;
:qx;
RESET parallel_material.enable;

-- bob: VACUUM FULL drops the dead versions before rows 4..6: their ctid moves.
\c - pm_sys_bob
SET client_min_messages = warning;
VACUUM FULL pm_sys_t;
\c - pm_sys_carol
SET client_min_messages = warning;
:qc;
SET parallel_material.enable = off;
:qc;
RESET parallel_material.enable;
-- Why they are not shared (a system column anywhere in the subtree, also only in a qual).
SELECT verdict FROM parallel_material.share_verdicts(:'qx');
SELECT verdict FROM parallel_material.share_verdicts(:'qc');
SELECT verdict FROM parallel_material.share_verdicts(:'qn');
SELECT verdict FROM parallel_material.share_verdicts('SELECT id FROM pm_sys_t WHERE ctid = ''(0,1)'' ORDER BY id');
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM pm_sys_t GROUP BY tableoid');

\c - postgres
SET client_min_messages = warning;
DROP TABLE pm_sys_t;
DROP FUNCTION pm_site(text);
DROP FUNCTION pm_wait_tracking(regclass);
DROP ROLE pm_sys_alice;
DROP ROLE pm_sys_bob;
DROP ROLE pm_sys_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
