-- views: maintained join views (docs/views.md). create_view / drop_view / refresh_view /
-- view_check / the views view, every refusal with its SQLSTATE, and every write kind on the
-- inputs, each followed by view_check (no row: the table equals its query).
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- 'exact', or the differences between the view's table and its query
CREATE FUNCTION pg_temp.chk(v regclass) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(side || ' ' || copies || 'x ' || row_text, '; ' ORDER BY row_text, side), 'exact')
      FROM parallel_material.view_check(v) $$;

-- autovacuum off: an ANALYZE at a random moment would change the delta plans' join order and
-- the row counts the debug_view_explain NOTICEs below print
CREATE TABLE customer (c_custkey int PRIMARY KEY, c_name text, c_segment text) WITH (autovacuum_enabled = off);
CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_custkey int, o_date date, o_total numeric) WITH (autovacuum_enabled = off);
CREATE TABLE lineitem (l_orderkey int, l_line int, l_price numeric, l_qty int) WITH (autovacuum_enabled = off);
INSERT INTO customer SELECT g, 'c' || g, CASE WHEN g % 2 = 0 THEN 'BUILDING' ELSE 'AUTO' END
  FROM generate_series(1, 20) g;
INSERT INTO orders SELECT g, g % 20 + 1, date '2020-01-01' + g, g * 1.5 FROM generate_series(1, 50) g;
INSERT INTO lineitem SELECT g % 50 + 1, g, g * 1.0, g % 3 FROM generate_series(1, 200) g;

-- a two-table join: the arrangements the delta plans probe are created (NOTICE each)
SELECT parallel_material.create_view('v_ol',
  $$SELECT o.o_orderkey, o.o_custkey, l.l_price * 2 AS p2, l.l_qty
      FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE l.l_qty > 0$$);
SELECT count(*) FROM v_ol;
SELECT pg_temp.chk('v_ol');
SELECT relation, key, columns FROM parallel_material.arrangements ORDER BY relation::text, key;
SELECT name, base_relations, arrangements, rows, deltas_applied, memory_bytes
  FROM parallel_material.views;
-- the table is an ordinary table of the caller, with the query's columns
SELECT relkind, relpersistence, pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'v_ol'::regclass;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'v_ol'::regclass AND attnum > 0 ORDER BY attnum;

-- each input's delta plan probes the other input's arrangement (ArrangementJoin, no fallback).
-- The planner chooses by cost; on these small tables a hash join over the other input is as
-- cheap, so the other join methods are disabled here to keep the plans stable.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET parallel_material.debug_view_explain = on;
INSERT INTO lineitem VALUES (3, 1000, 5.5, 2), (3, 1001, 5.5, 2), (99, 1, 1, 1);
SELECT pg_temp.chk('v_ol');
INSERT INTO orders VALUES (99, 3, '2021-01-01', 1);
SELECT pg_temp.chk('v_ol');
RESET parallel_material.debug_view_explain;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;

-- UPDATE of a join key, of a projected column, of a filtered column; DELETE on each side
UPDATE lineitem SET l_orderkey = 4 WHERE l_orderkey = 3;
SELECT pg_temp.chk('v_ol');
UPDATE lineitem SET l_price = l_price + 1 WHERE l_orderkey IN (5, 6);
SELECT pg_temp.chk('v_ol');
UPDATE lineitem SET l_qty = 0 WHERE l_orderkey = 7;
UPDATE lineitem SET l_qty = 5 WHERE l_orderkey = 8;
SELECT pg_temp.chk('v_ol');
UPDATE orders SET o_orderkey = o_orderkey + 1000 WHERE o_orderkey BETWEEN 10 AND 12;
SELECT pg_temp.chk('v_ol');
DELETE FROM orders WHERE o_orderkey < 5;
DELETE FROM lineitem WHERE l_line % 7 = 0;
SELECT pg_temp.chk('v_ol');
-- duplicates (bag semantics): identical result rows are identical table rows, and a delete
-- removes exactly as many copies as the query lost
INSERT INTO lineitem VALUES (20, 1, 7, 1), (20, 1, 7, 1), (20, 1, 7, 1);
SELECT count(*) FROM v_ol WHERE o_orderkey = 20 AND p2 = 14;
DELETE FROM lineitem WHERE ctid = (SELECT min(ctid) FROM lineitem WHERE l_orderkey = 20 AND l_price = 7);
SELECT count(*) FROM v_ol WHERE o_orderkey = 20 AND p2 = 14;
SELECT pg_temp.chk('v_ol');
-- equal but not identical values (numeric 1.0 and 1.00) stay the rows the query gives
INSERT INTO lineitem VALUES (21, 1, 1.0, 1), (21, 1, 1.00, 1);
DELETE FROM lineitem WHERE l_orderkey = 21 AND l_price::text = '1.00';
SELECT p2 FROM v_ol WHERE o_orderkey = 21 AND p2 = 2;
SELECT pg_temp.chk('v_ol');
-- NULLs: a NULL join key never joins, a NULL projected value is a row like any other
INSERT INTO lineitem VALUES (NULL, 1, 1, 1), (22, 1, NULL, 1), (22, 1, NULL, 1);
DELETE FROM lineitem WHERE l_orderkey = 22 AND l_line = 1 AND ctid = (SELECT min(ctid) FROM lineitem WHERE l_orderkey = 22 AND l_price IS NULL);
SELECT pg_temp.chk('v_ol');

-- MERGE, COPY, ON CONFLICT
MERGE INTO orders o USING (VALUES (30, 1), (500, 2), (31, 3)) s(k, c) ON o.o_orderkey = s.k
  WHEN MATCHED AND s.k = 30 THEN UPDATE SET o_custkey = s.c
  WHEN MATCHED THEN DELETE
  WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.c, '2022-01-01', 0);
INSERT INTO lineitem VALUES (500, 1, 10, 1);
SELECT pg_temp.chk('v_ol');
COPY lineitem FROM stdin;
500	2	11	1
500	3	12	2
40	4	13	1
\.
SELECT pg_temp.chk('v_ol');
INSERT INTO orders VALUES (40, 9, '2022-02-02', 1), (501, 1, '2022-02-02', 1)
  ON CONFLICT (o_orderkey) DO UPDATE SET o_orderkey = 502;
SELECT pg_temp.chk('v_ol');
INSERT INTO orders VALUES (41, 9, '2022-02-02', 1), (503, 1, '2022-02-02', 1)
  ON CONFLICT DO NOTHING;
SELECT pg_temp.chk('v_ol');

-- transactions: rolled back savepoints, an aborted transaction, checks inside the transaction
BEGIN;
INSERT INTO lineitem VALUES (45, 1, 100, 1);
SELECT pg_temp.chk('v_ol');
SAVEPOINT a;
DELETE FROM orders WHERE o_orderkey = 45;
UPDATE lineitem SET l_orderkey = 46 WHERE l_orderkey = 47;
SELECT pg_temp.chk('v_ol');
ROLLBACK TO SAVEPOINT a;
SELECT pg_temp.chk('v_ol');
SAVEPOINT b;
INSERT INTO lineitem VALUES (46, 2, 100, 1);
RELEASE SAVEPOINT b;
COMMIT;
SELECT pg_temp.chk('v_ol');
BEGIN;
DELETE FROM lineitem WHERE l_orderkey = 48;
ROLLBACK;
SELECT pg_temp.chk('v_ol');
-- a write that fails in the middle of a PL/pgSQL block whose exception handler goes on
DO $$
BEGIN
    INSERT INTO lineitem VALUES (49, 9, 9, 1);
    BEGIN
        INSERT INTO lineitem VALUES (49, 10, 9, 1);
        DELETE FROM orders WHERE o_orderkey = 49;
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN NULL;
    END;
    INSERT INTO lineitem VALUES (49, 11, 9, 1);
END $$;
SELECT pg_temp.chk('v_ol');
SELECT count(*) FROM v_ol WHERE o_orderkey = 49 AND p2 = 18;

-- one statement writing both inputs (writable CTE): inclusion-exclusion over both changes
WITH o AS (INSERT INTO orders VALUES (600, 1, '2023-01-01', 1) RETURNING o_orderkey)
INSERT INTO lineitem SELECT o_orderkey, 1, 1, 1 FROM o;
SELECT pg_temp.chk('v_ol');
WITH o AS (DELETE FROM orders WHERE o_orderkey = 600 RETURNING o_orderkey)
DELETE FROM lineitem WHERE l_orderkey IN (SELECT o_orderkey FROM o);
SELECT pg_temp.chk('v_ol');
WITH o AS (UPDATE orders SET o_orderkey = 601 WHERE o_orderkey = 50 RETURNING o_orderkey)
UPDATE lineitem SET l_orderkey = 601 WHERE l_orderkey = 50;
SELECT pg_temp.chk('v_ol');

-- TRUNCATE of an input empties the view; refilled, it follows again
BEGIN;
TRUNCATE lineitem;
SELECT count(*) FROM v_ol;
SELECT pg_temp.chk('v_ol');
INSERT INTO lineitem SELECT g % 50 + 1, g, g * 1.0, g % 3 FROM generate_series(1, 120) g;
SELECT pg_temp.chk('v_ol');
COMMIT;
SELECT pg_temp.chk('v_ol');

-- a foreign-key cascade: the cascaded delete and the delete run as nested statements
CREATE TABLE parent (p int PRIMARY KEY, name text);
CREATE TABLE child (c int, p int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE, v int);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g;
INSERT INTO child SELECT g, g % 10 + 1, g FROM generate_series(1, 40) g;
SELECT parallel_material.create_view('v_pc',
  $$SELECT parent.name, child.v FROM parent JOIN child ON child.p = parent.p$$);
DELETE FROM parent WHERE p <= 3;
SELECT pg_temp.chk('v_pc');
UPDATE parent SET p = p + 100 WHERE p = 5;
SELECT pg_temp.chk('v_pc');
SELECT count(*) FROM v_pc;

-- three tables (lineitem -> orders -> customer), a filter on each input
SELECT parallel_material.create_view('v_q3',
  $$SELECT l.l_orderkey, o.o_date, c.c_name, l.l_price * (1 + l.l_qty) AS revenue
      FROM customer c, orders o, lineitem l
     WHERE c.c_segment = 'BUILDING' AND c.c_custkey = o.o_custkey
       AND l.l_orderkey = o.o_orderkey AND o.o_date < date '2020-02-10' AND l.l_qty < 2$$);
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET parallel_material.debug_view_explain = on;
INSERT INTO lineitem VALUES (14, 77, 3, 1);
UPDATE customer SET c_segment = 'BUILDING' WHERE c_custkey = 3;
RESET parallel_material.debug_view_explain;
SELECT pg_temp.chk('v_q3'), pg_temp.chk('v_ol');
SELECT count(*) FROM v_q3;
UPDATE orders SET o_custkey = 4 WHERE o_orderkey BETWEEN 20 AND 25;
DELETE FROM customer WHERE c_custkey = 6;
SELECT pg_temp.chk('v_q3'), pg_temp.chk('v_ol');

-- a self-join and a table joined twice: a statement changing it changes several positions
CREATE TABLE emp (id int PRIMARY KEY, boss int, dept int, name text) WITH (autovacuum_enabled = off);
CREATE TABLE dept (id int PRIMARY KEY, dname text) WITH (autovacuum_enabled = off);
INSERT INTO dept SELECT g, 'd' || g FROM generate_series(1, 4) g;
INSERT INTO emp SELECT g, CASE WHEN g > 1 THEN g / 2 END, g % 4 + 1, 'e' || g FROM generate_series(1, 30) g;
SELECT parallel_material.create_view('v_self',
  $$SELECT e.name, b.name AS boss, d1.dname AS edept, d2.dname AS bdept
      FROM emp e JOIN emp b ON e.boss = b.id
      JOIN dept d1 ON d1.id = e.dept JOIN dept d2 ON d2.id = b.dept$$);
SELECT pg_temp.chk('v_self');
-- both positions of emp are changed: the terms probe emp's own arrangements while this
-- statement's AFTER event on emp is still queued (trusted: every row event has fired)
SET parallel_material.debug_view_explain = on;
INSERT INTO emp VALUES (31, 15, 1, 'e31'), (32, 31, 2, 'e32');
RESET parallel_material.debug_view_explain;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT pg_temp.chk('v_self');
UPDATE emp SET boss = 3 WHERE id IN (4, 8, 9);
SELECT pg_temp.chk('v_self');
UPDATE emp SET id = id + 100 WHERE id IN (2, 5);
SELECT pg_temp.chk('v_self');
UPDATE dept SET dname = dname || 'x';
SELECT pg_temp.chk('v_self');
DELETE FROM emp WHERE id % 3 = 0;
SELECT pg_temp.chk('v_self');
SELECT count(*) FROM v_self;

-- DDL on an input: the view table depends on every column its query reads (as a view's rule
-- does); other columns come and go, renamed columns keep being maintained
ALTER TABLE emp ADD COLUMN note text;
ALTER TABLE emp DROP COLUMN note;
SELECT pg_temp.err($$ALTER TABLE emp DROP COLUMN boss$$);
SELECT pg_temp.err($$ALTER TABLE emp ALTER COLUMN name TYPE varchar(20)$$);
ALTER TABLE emp RENAME COLUMN name TO ename;
INSERT INTO emp VALUES (40, 7, 1, 'e40');
UPDATE emp SET ename = ename || '!' WHERE id = 7;
SELECT pg_temp.chk('v_self');
SELECT parallel_material.view_query('v_self');

-- an input cannot later join an inheritance or partition hierarchy (statement triggers would
-- miss writes made through the parent)
SELECT pg_temp.err($$CREATE TABLE emp_child () INHERITS (emp)$$);
CREATE TABLE emp_parent (id int, boss int, dept int, ename text);
SELECT pg_temp.err($$ALTER TABLE emp INHERIT emp_parent$$);
CREATE TABLE emp_parted (id int, boss int, dept int, ename text) PARTITION BY RANGE (id);
SELECT pg_temp.err($$ALTER TABLE emp_parted ATTACH PARTITION emp FOR VALUES FROM (0) TO (1000)$$);
DROP TABLE emp_parent, emp_parted;

-- refresh_view recomputes; a table written behind the maintenance's back is caught
DELETE FROM v_ol WHERE o_orderkey = 8;
SELECT pg_temp.chk('v_ol');
SELECT pg_temp.err($$DELETE FROM lineitem WHERE l_orderkey = 8$$);
SELECT parallel_material.refresh_view('v_ol') > 0 AS refreshed;
SELECT pg_temp.chk('v_ol');

-- refusals: each names the construct, with a hint of what is supported
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o.o_orderkey FROM orders o FULL JOIN lineitem l ON l.l_orderkey = o.o_orderkey')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, count(*) AS n FROM orders GROUP BY o_custkey HAVING count(*) > random()')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT array_agg(o_custkey) AS a FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT DISTINCT ON (o_custkey) o_custkey FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT x.o_custkey FROM (SELECT * FROM orders) x')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem)')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders UNION ALL SELECT l_orderkey FROM lineitem')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders ORDER BY 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders LIMIT 3')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'WITH x AS (SELECT 1 AS a) SELECT o_custkey FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, random() AS r FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders WHERE o_date < now()')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, l_price FROM orders, lineitem')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, l_price FROM orders JOIN lineitem ON l_orderkey < o_orderkey')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, ctid AS t FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o AS whole FROM orders o')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, o_custkey FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey + 1 FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT ROW(o_custkey, o_date) AS r FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey, rank() OVER () AS r FROM orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT g FROM generate_series(1, 3) g')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders FOR UPDATE')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT 1 AS one')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders; SELECT 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_orderkey FROM v_ol')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT oid FROM pg_class')$$);
CREATE VIEW plain_view AS SELECT * FROM orders;
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_orderkey FROM plain_view')$$);
CREATE TABLE parted (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM parted')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM parted_1')$$);
CREATE TABLE inh_parent (a int);
CREATE TABLE inh_child () INHERITS (inh_parent);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM inh_parent')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM ONLY inh_child')$$);
CREATE TEMP TABLE tmp_in (a int);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM tmp_in')$$);
CREATE TABLE rls_in (a int);
ALTER TABLE rls_in ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT a FROM rls_in')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('v_ol', 'SELECT o_custkey FROM orders')$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT o_custkey FROM orders')$$);
COMMIT;
SELECT pg_temp.err($$SELECT parallel_material.drop_view('orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.refresh_view('orders')$$);
SELECT pg_temp.err($$SELECT parallel_material.view_check('orders')$$);
SELECT count(*) AS leftover_r FROM pg_class WHERE relname = 'r';

-- privileges: only the owner of every input creates a view over them; the table is the caller's
CREATE ROLE views_owner LOGIN;
CREATE ROLE views_other LOGIN;
GRANT CREATE ON SCHEMA public TO views_owner, views_other;
SET ROLE views_owner;
CREATE TABLE own_a (k int, x int);
CREATE TABLE own_b (k int, y int);
INSERT INTO own_a SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO own_b SELECT g % 5, g FROM generate_series(1, 10) g;
GRANT SELECT, INSERT, UPDATE, DELETE ON own_a, own_b TO views_other;
SET ROLE views_other;
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT own_a.x, own_b.y FROM own_a JOIN own_b ON own_a.k = own_b.k')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('r', 'SELECT own_a.x, orders.o_custkey FROM own_a JOIN orders ON own_a.k = orders.o_orderkey')$$);
SET ROLE views_owner;
SELECT parallel_material.create_view('v_own', 'SELECT own_a.x, own_b.y FROM own_a JOIN own_b ON own_a.k = own_b.k');
SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'v_own'::regclass;
-- another role writing the inputs maintains the view (as the view's owner)
SET ROLE views_other;
INSERT INTO own_b VALUES (3, 100), (4, 101);
UPDATE own_a SET k = 4 WHERE k = 1;
SELECT pg_temp.err($$SELECT * FROM v_own$$);
SELECT pg_temp.err($$SELECT parallel_material.drop_view('v_own')$$);
SELECT pg_temp.err($$SELECT parallel_material.refresh_view('v_own')$$);
SET ROLE views_owner;
SELECT pg_temp.chk('v_own');
SELECT parallel_material.drop_view('v_own');
RESET ROLE;

-- the arrangements a view needs cannot be dropped; a base table cannot be dropped under it
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('orders', '{o_orderkey}')$$);
SELECT pg_temp.err($$DROP TABLE lineitem$$);
-- drop_view: arrangements it created go unless another view uses them
SELECT name FROM parallel_material.views ORDER BY 1;
SELECT parallel_material.drop_view('v_ol');
SELECT relation, key FROM parallel_material.arrangements ORDER BY relation::text, key;
SELECT parallel_material.drop_view('v_q3');
SELECT parallel_material.drop_view('v_pc');
SELECT parallel_material.drop_view('v_self');
SELECT count(*) AS arrangements_left FROM parallel_material.arrangements;
SELECT count(*) AS views_left FROM parallel_material.views;
-- DROP TABLE of a view table takes its triggers with it
SELECT parallel_material.create_view('v_gone', 'SELECT o.o_orderkey, l.l_line FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey');
DROP TABLE v_gone;
SELECT count(*) AS view_triggers_left FROM pg_trigger WHERE tgname LIKE 'pm_view_%';
INSERT INTO lineitem VALUES (11, 1, 1, 1);
SELECT relation, key FROM parallel_material.arrangements ORDER BY relation::text, key;
SELECT parallel_material.drop_arrangement('orders', '{o_orderkey}');
SELECT parallel_material.drop_arrangement('lineitem', '{l_orderkey}');

DROP TABLE own_a, own_b;
REVOKE CREATE ON SCHEMA public FROM views_owner, views_other;
DROP ROLE views_owner;
DROP ROLE views_other;
DROP TABLE customer, orders, lineitem, parent, child, emp, dept, parted, inh_parent CASCADE;
DROP TABLE rls_in;
