-- views_direct: small single-input deltas computed by probing the arrangements directly
-- (docs/views.md, "Direct probes"). With parallel_material.view_direct_probe = notice every
-- maintenance run says which way it took ("direct probe: <order>: N rows" or "SQL delta query:
-- <why>"); view_check after every write shows the views exact: rows that pass or fail each
-- input's filter, NULL keys, duplicate keys, key updates, deletes, this transaction's own rows,
-- rolled-back rows and savepoints (MVCC visibility of the versions), REPEATABLE READ, a
-- writer without rights on the other inputs, and the fallbacks (a not-ready arrangement,
-- SERIALIZABLE, a self-join, a LEFT JOIN, a user function in a filter, a join key that cannot
-- be arranged, debug_join_fallback).
SET client_min_messages = notice;
CREATE TABLE dc (c_custkey int PRIMARY KEY, c_mktsegment text);
CREATE TABLE dor (o_orderkey int, o_custkey int, o_orderdate date, o_shippriority int);
CREATE TABLE dl (l_orderkey int, l_linenumber int, l_price numeric, l_discount numeric, l_shipdate date);
INSERT INTO dc SELECT g, CASE WHEN g % 2 = 0 THEN 'BUILDING' ELSE 'AUTO' END FROM generate_series(1, 10) g;
INSERT INTO dor SELECT g, g % 10 + 1, date '1995-03-01' + (g % 30), g % 3 FROM generate_series(1, 40) g;
INSERT INTO dl SELECT g % 40 + 1, g, g * 1.25, 0.05, date '1995-03-01' + (g % 30) FROM generate_series(1, 120) g;
SET client_min_messages = warning;
SELECT parallel_material.create_view('dv_q3', $$
  SELECT l.l_orderkey, l.l_linenumber, o.o_orderdate, o.o_shippriority,
         l.l_price * (1 - l.l_discount) AS revenue
    FROM dc c JOIN dor o ON c.c_custkey = o.o_custkey JOIN dl l ON l.l_orderkey = o.o_orderkey
   WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < date '1995-03-15'
     AND l.l_shipdate > date '1995-03-15' $$) IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_rev', $$
  SELECT l.l_orderkey, o.o_orderdate, sum(l.l_price * (1 - l.l_discount)) AS revenue, count(*) AS n
    FROM dc c JOIN dor o ON c.c_custkey = o.o_custkey JOIN dl l ON l.l_orderkey = o.o_orderkey
   WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < date '1995-03-15'
     AND l.l_shipdate > date '1995-03-15'
   GROUP BY l.l_orderkey, o.o_orderdate $$) IS NOT NULL AS created;
SET client_min_messages = notice;

CREATE TABLE ddiff (step text, view text, diff text);
CREATE PROCEDURE dcheck(step text) LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['dv_q3', 'dv_rev'] LOOP
        INSERT INTO ddiff SELECT step, v, side || ' ' || copies || 'x ' || row_text
          FROM parallel_material.view_check(v::regclass);
    END LOOP;
END $$;
CALL dcheck('start');
SELECT count(*) AS rows_start FROM dv_q3;

SET parallel_material.view_direct_probe = notice;
-- order 2: customer 3 (AUTO); order 9: customer 10 (BUILDING), 1995-03-10
-- passes every filter: one row (in each view)
INSERT INTO dl VALUES (9, 1001, 10, 0.1, date '1995-04-01');
CALL dcheck('insert passing');
-- fails the lineitem filter, the orders filter, the customer filter
INSERT INTO dl VALUES (9, 1002, 10, 0.1, date '1995-03-02');
INSERT INTO dl VALUES (29, 1003, 10, 0.1, date '1995-04-01');  -- order 29: 1995-03-30
INSERT INTO dl VALUES (2, 1004, 10, 0.1, date '1995-04-01');
CALL dcheck('insert filtered');
-- NULL key, a key without an order
INSERT INTO dl VALUES (NULL, 1005, 10, 0.1, date '1995-04-01');
INSERT INTO dl VALUES (999, 1006, 10, 0.1, date '1995-04-01');
CALL dcheck('insert null and missing key');
-- duplicate keys: a second order 9 (same customer) doubles the matches; identical rows twice
INSERT INTO dor VALUES (9, 10, date '1995-03-10', 0);
INSERT INTO dl VALUES (9, 1007, 7, 0, date '1995-04-02');
INSERT INTO dl VALUES (9, 1007, 7, 0, date '1995-04-02');
SELECT count(*) AS copies FROM dv_q3 WHERE l_linenumber = 1007;
CALL dcheck('duplicate keys');
DELETE FROM dl WHERE ctid = (SELECT min(ctid) FROM dl WHERE l_linenumber = 1007);
SELECT count(*) AS copies FROM dv_q3 WHERE l_linenumber = 1007;
CALL dcheck('delete one duplicate');
-- a customer and an order written: the delta starts from them
INSERT INTO dc VALUES (100, 'BUILDING');
INSERT INTO dor VALUES (500, 100, date '1995-03-05', 1);
INSERT INTO dl VALUES (500, 1008, 3, 0, date '1995-05-01');
UPDATE dc SET c_mktsegment = 'AUTO' WHERE c_custkey = 100;
CALL dcheck('customer and order');
UPDATE dc SET c_mktsegment = 'BUILDING' WHERE c_custkey = 100;
-- updates: of a filtered column, of the join key (the row moves between orders), deletes
UPDATE dl SET l_shipdate = date '1995-03-01' WHERE l_linenumber = 1001;
UPDATE dl SET l_shipdate = date '1995-04-01' WHERE l_linenumber = 1001;
UPDATE dl SET l_orderkey = 500 WHERE l_linenumber = 1001;
UPDATE dor SET o_custkey = 2 WHERE o_orderkey = 500;
DELETE FROM dl WHERE l_linenumber = 1008;
DELETE FROM dor WHERE o_orderkey = 9 AND o_shippriority = 0;
CALL dcheck('updates and deletes');

-- MVCC: an order deleted before (its version stays in the arrangement, deleted), rolled back,
-- inserted in a savepoint rolled back, and this transaction's own rows
DELETE FROM dor WHERE o_orderkey = 5;
INSERT INTO dl VALUES (5, 1009, 1, 0, date '1995-04-01');
BEGIN;
INSERT INTO dor VALUES (600, 2, date '1995-03-01', 0);
ROLLBACK;
INSERT INTO dl VALUES (600, 1010, 1, 0, date '1995-04-01');
BEGIN;
SAVEPOINT s;
INSERT INTO dor VALUES (601, 2, date '1995-03-01', 0);
ROLLBACK TO s;
INSERT INTO dl VALUES (601, 1011, 1, 0, date '1995-04-01');
INSERT INTO dor VALUES (602, 2, date '1995-03-01', 0);
INSERT INTO dl VALUES (602, 1012, 1, 0, date '1995-04-01');
CALL dcheck('own rows, inside');
UPDATE dor SET o_shippriority = 5 WHERE o_orderkey = 602;
INSERT INTO dl VALUES (602, 1013, 1, 0, date '1995-04-01');
COMMIT;
SELECT l_orderkey, l_linenumber, o_shippriority FROM dv_q3 WHERE l_linenumber BETWEEN 1009 AND 1013 ORDER BY 2;
CALL dcheck('mvcc');

-- REPEATABLE READ (the delta is computed under the latest snapshot too and compared)
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO dl VALUES (11, 1014, 2, 0, date '1995-04-01');
INSERT INTO dor VALUES (603, 4, date '1995-03-02', 0);
INSERT INTO dl VALUES (603, 1015, 2, 0, date '1995-04-01');
CALL dcheck('repeatable read, inside');
COMMIT;
CALL dcheck('repeatable read');

-- a writer with INSERT on dl only
CREATE ROLE dv_writer LOGIN;
GRANT INSERT, DELETE, SELECT ON dl TO dv_writer;
SET ROLE dv_writer;
INSERT INTO dl VALUES (11, 1016, 2, 0, date '1995-04-01');
DELETE FROM dl WHERE l_linenumber = 1016;
SELECT count(*) FROM dv_q3;  -- no right on the view table
RESET ROLE;
CALL dcheck('writer');

-- fallbacks: the SQL delta query
BEGIN ISOLATION LEVEL SERIALIZABLE;
INSERT INTO dl VALUES (11, 1017, 2, 0, date '1995-04-01');
COMMIT;
SET parallel_material.debug_join_fallback = on;
INSERT INTO dl VALUES (11, 1018, 2, 0, date '1995-04-01');
RESET parallel_material.debug_join_fallback;
SET parallel_material.enable_arrangement_join = off;
INSERT INTO dl VALUES (11, 1019, 2, 0, date '1995-04-01');
RESET parallel_material.enable_arrangement_join;
-- a statement changing two inputs (a writable CTE): not a single-input delta (no notice)
WITH o AS (INSERT INTO dor VALUES (604, 4, date '1995-03-02', 0))
INSERT INTO dl VALUES (604, 1020, 2, 0, date '1995-04-01');
-- a not-ready arrangement (the table rewritten)
VACUUM FULL dor;
SELECT state FROM parallel_material.arrangements WHERE relation = 'dor'::regclass ORDER BY key::text;
INSERT INTO dl VALUES (11, 1021, 2, 0, date '1995-04-01');
CALL dcheck('fallbacks');
-- a read through them rebuilds them (the planner plans only on ready ones): direct again
SELECT count(*) AS n FROM parallel_material.arrangement_check('dor', '{o_orderkey}');
SELECT count(*) AS n FROM parallel_material.arrangement_check('dor', '{o_custkey}');
SELECT state FROM parallel_material.arrangements WHERE relation = 'dor'::regclass ORDER BY key::text;
INSERT INTO dl VALUES (11, 1022, 2, 0, date '1995-04-01');
CALL dcheck('rebuilt');
-- an arrangement whose maintenance trigger was disabled (it misses writes): the join's trust
-- check refuses it, so the SQL delta query (which plans without it) answers
SELECT 'pm_arrangement_' || defid AS trg FROM parallel_material.arrangement_defs
 WHERE relid = 'dor'::regclass AND key_attnums = '{1}' \gset
ALTER TABLE dor DISABLE TRIGGER :"trg";
INSERT INTO dor VALUES (700, 2, date '1995-03-01', 0);
INSERT INTO dl VALUES (700, 1023, 2, 0, date '1995-04-01');
SELECT l_orderkey, l_linenumber FROM dv_q3 WHERE l_orderkey = 700;
ALTER TABLE dor ENABLE ALWAYS TRIGGER :"trg";
INSERT INTO dl VALUES (700, 1024, 2, 0, date '1995-04-01');
CALL dcheck('untrusted');

-- a view owned by a role that is not a superuser: row-level security forced on a probed table,
-- or SELECT on it revoked from the owner, leave the answer to the SQL delta query (whose plan
-- joins without the arrangement under row-level security, and whose executor checks rights)
CREATE ROLE dv_owner LOGIN;
GRANT CREATE ON SCHEMA public TO dv_owner;
SET client_min_messages = warning;
CREATE TABLE ra (k int, v int);
CREATE TABLE rb (k int PRIMARY KEY, w int);
INSERT INTO rb VALUES (1, 10), (2, 20);
ALTER TABLE ra OWNER TO dv_owner;
ALTER TABLE rb OWNER TO dv_owner;
SET ROLE dv_owner;
SELECT parallel_material.create_view('dv_owned',
  'SELECT ra.k, ra.v, rb.w FROM ra JOIN rb ON rb.k = ra.k') IS NOT NULL AS created;
RESET ROLE;
SET client_min_messages = notice;
INSERT INTO ra VALUES (1, 1);
ALTER TABLE rb ENABLE ROW LEVEL SECURITY;
ALTER TABLE rb FORCE ROW LEVEL SECURITY;
CREATE POLICY rb_one ON rb USING (k = 1);
INSERT INTO ra VALUES (2, 2);  -- the owner may not see rb's row 2: no view row
SET ROLE dv_owner;
SELECT count(c.side) AS differences FROM parallel_material.view_check('dv_owned') c;
SELECT * FROM dv_owned ORDER BY v;
RESET ROLE;
DELETE FROM ra WHERE v = 2;
ALTER TABLE rb NO FORCE ROW LEVEL SECURITY;
ALTER TABLE rb DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON rb FROM dv_owner;
\set VERBOSITY terse
INSERT INTO ra VALUES (1, 3);
\set VERBOSITY default
GRANT SELECT ON rb TO dv_owner;
INSERT INTO ra VALUES (1, 4);
SELECT count(c.side) AS differences FROM parallel_material.view_check('dv_owned') c;
SELECT * FROM dv_owned ORDER BY v;

-- shapes outside the allowlist (each over tables of its own: one view per write)
SET client_min_messages = warning;
CREATE TABLE sa (k int, v int);
CREATE TABLE sx (k int, v int);
CREATE TABLE sy (k int, w int);
CREATE TABLE fa (k int, v int);
CREATE TABLE fb (k int, w numeric);
CREATE TABLE na (k numeric, v int);
CREATE TABLE nb (k numeric, w int);
INSERT INTO sa VALUES (1, 1), (2, 1);
INSERT INTO sx VALUES (1, 1), (2, 2);
INSERT INTO fa VALUES (1, 1), (2, 2);
INSERT INTO na VALUES (1, 1), (2, 2);
CREATE FUNCTION dv_cheap(numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 < 100';
SELECT parallel_material.create_view('dv_self',
  'SELECT a.k, b.k AS other FROM sa a JOIN sa b ON a.k = b.v') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_left',
  'SELECT sx.k, sy.w FROM sx LEFT JOIN sy ON sy.k = sx.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_fn',
  'SELECT fa.k, fb.w FROM fa JOIN fb ON fb.k = fa.k WHERE dv_cheap(fb.w)') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_num',
  'SELECT na.v, nb.w FROM na JOIN nb ON nb.k = na.k') IS NOT NULL AS created;
SET client_min_messages = notice;
INSERT INTO sa VALUES (3, 2);
INSERT INTO sy VALUES (1, 10);
INSERT INTO fb VALUES (1, 5), (2, 500);
INSERT INTO nb VALUES (1, 10);
-- off: no notice
SET parallel_material.view_direct_probe = off;
INSERT INTO dl VALUES (11, 1025, 2, 0, date '1995-04-01');
RESET parallel_material.view_direct_probe;
SET client_min_messages = warning;
SELECT v, count(c.side) AS differences
  FROM unnest(ARRAY['dv_self', 'dv_left', 'dv_fn', 'dv_num']) v
  LEFT JOIN LATERAL parallel_material.view_check(v::regclass) c ON true GROUP BY v ORDER BY v;
CALL dcheck('end');
SELECT * FROM ddiff;
SELECT count(*) AS rows_end FROM dv_q3;
SELECT parallel_material.drop_view(v) IS NOT NULL AS dropped
  FROM unnest(ARRAY['dv_q3', 'dv_rev', 'dv_self', 'dv_left', 'dv_fn', 'dv_num', 'dv_owned']) v;
DROP TABLE dl, dor, dc, ddiff, sa, sx, sy, fa, fb, na, nb, ra, rb;
REVOKE CREATE ON SCHEMA public FROM dv_owner;
DROP PROCEDURE dcheck;
DROP FUNCTION dv_cheap;
DROP ROLE dv_writer, dv_owner;
