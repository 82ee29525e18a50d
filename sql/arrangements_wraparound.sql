SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_wraparound: stored 32-bit xids are never read once the heap has frozen them or the
-- commit log has forgotten them. An arrangement whose oldest-xid bound precedes the table's
-- relfrozenxid is rebuilt by its next reader (a real VACUUM FREEZE, then a faked old bound); one
-- whose bound precedes the commit log's horizon is invalidated by the reclaim pass, without any
-- reader. deltas_applied counts deltas since the last build, so 0 shows a rebuild.
CREATE TABLE wr (id int, k int, v text);
CREATE TABLE wo (x int);
INSERT INTO wr SELECT g, g % 10, 'v' || g FROM generate_series(1, 100) g;
INSERT INTO wo VALUES (3), (4);
ANALYZE wr, wo;
SELECT parallel_material.create_arrangement('wr', '{k}');
CREATE VIEW wr_state AS
SELECT a.state, a.deltas_applied,
       a.oldest_xid IS NOT NULL AS has_bound,
       age(a.oldest_xid) <= age(c.relfrozenxid) AS bound_not_before_relfrozenxid
  FROM parallel_material.arrangements a JOIN pg_class c ON c.oid = a.relation
 WHERE a.relation = 'wr'::regclass;
SELECT * FROM wr_state;
INSERT INTO wr SELECT g, g % 10, 'w' || g FROM generate_series(101, 110) g;
SELECT * FROM wr_state;

-- 1. VACUUM FREEZE moves relfrozenxid past the xid of that insert, which the arrangement holds:
--    the next read rebuilds it (the rebuild stores the frozen rows as frozen).
VACUUM (FREEZE) wr;
SELECT bound_not_before_relfrozenxid FROM wr_state;
SELECT count(*) FROM parallel_material.arrangement_probe('wr', '{3}');
SELECT * FROM wr_state;
SELECT count(*) AS differences FROM parallel_material.arrangement_check('wr');

-- 2. The join path checks the same way: a (faked) bound just before relfrozenxid.
INSERT INTO wr VALUES (111, 3, 'x');
SELECT parallel_material._arrangement_age_for_test('wr', '{k}', 'relfrozenxid') IS NOT NULL AS aged;
SELECT * FROM wr_state;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT wr.id FROM wo JOIN wr ON wr.k = wo.x;
SELECT count(*) FROM wo JOIN wr ON wr.k = wo.x;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT * FROM wr_state;

-- 3. A bound before the commit log's horizon: the reclaim pass (the background worker's, run
--    here on demand) invalidates the arrangement before walking it; the next read rebuilds it.
INSERT INTO wr VALUES (112, 4, 'y');
SELECT parallel_material._arrangement_age_for_test('wr', '{k}', 'clog') IS NOT NULL AS aged;
SELECT parallel_material.arrangement_reclaim('wr');
SELECT state, deltas_applied FROM wr_state;
SELECT count(*) FROM parallel_material.arrangement_probe('wr', '{4}');
SELECT * FROM wr_state;
SELECT count(*) AS differences FROM parallel_material.arrangement_check('wr');

-- Only a superuser may fake ages; unknown sources are refused.
SELECT parallel_material._arrangement_age_for_test('wr', '{k}', 'nonsense');
CREATE ROLE wr_user;
GRANT USAGE ON SCHEMA parallel_material TO wr_user;
SET ROLE wr_user;
SELECT parallel_material._arrangement_age_for_test('wr', '{k}', 'clog');
RESET ROLE;
REVOKE USAGE ON SCHEMA parallel_material FROM wr_user;
DROP ROLE wr_user;
DROP VIEW wr_state;
DROP TABLE wr, wo;
