-- views_left: maintained views with one LEFT JOIN (docs/views.md, "LEFT JOIN views"): the API,
-- every refusal of an outer-join shape, and every write path with view_check after each.
SET client_min_messages = warning;
CREATE TABLE lo (id int, cust int, note text);
CREATE TABLE ll (oid int, qty int, tag text);
CREATE TABLE lc (cust int, seg text);
INSERT INTO lo VALUES (1, 10, 'a'), (2, 10, 'b'), (3, 20, 'c'), (4, NULL, 'd'), (NULL, 30, 'e');
INSERT INTO ll VALUES (1, 5, 'x'), (1, 6, 'y'), (3, 7, 'x'), (NULL, 8, 'z'), (9, 9, 'x');
INSERT INTO lc VALUES (10, 'BUILDING'), (20, 'AUTO'), (30, 'BUILDING');

-- the views: a plain LEFT JOIN (orders without lines get one NULL-extended row), one with a
-- filter on the nullable side in ON, one under an inner join with a third table, one RIGHT JOIN
-- (read as a LEFT JOIN), a self-join, one with a WHERE on the nullable side
SELECT parallel_material.create_view('lv_plain',
  'SELECT o.id, o.note, l.qty, l.tag FROM lo o LEFT JOIN ll l ON l.oid = o.id') IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_onfilter',
  $$SELECT o.id, l.qty FROM lo o LEFT JOIN ll l ON o.id = l.oid AND l.tag = 'x'$$) IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_three',
  $$SELECT c.seg, o.id, coalesce(l.qty, 0) AS qty FROM lc c JOIN lo o ON o.cust = c.cust
      LEFT JOIN ll l ON l.oid = o.id WHERE c.seg = 'BUILDING'$$) IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_right',
  'SELECT o.id, l.tag FROM ll l RIGHT JOIN lo o ON l.oid = o.id') IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_self',
  'SELECT a.id, a.cust, b.id AS other FROM lo a LEFT JOIN lo b ON b.cust = a.id') IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_where',
  'SELECT o.id, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id WHERE l.qty IS NULL OR l.qty > 5') IS NOT NULL AS created;

CREATE FUNCTION check_all() RETURNS TABLE (view text, side text, copies bigint, row_text text)
LANGUAGE sql AS $$
  SELECT v, c.side, c.copies, c.row_text
    FROM unnest(ARRAY['lv_plain', 'lv_onfilter', 'lv_three', 'lv_right', 'lv_self', 'lv_where']) v,
         LATERAL parallel_material.view_check(v::regclass) c
$$;

SELECT * FROM lv_plain ORDER BY id, qty;
SELECT * FROM check_all();
-- the key index is on the preserved side's column
SELECT indexdef FROM pg_indexes WHERE tablename = 'lv_plain';

-- INSERT: the first match of an order removes its NULL-extended row, a second adds a row
INSERT INTO ll VALUES (2, 1, 'x');
SELECT * FROM lv_plain WHERE id = 2;
INSERT INTO ll VALUES (2, 2, 'y');
SELECT * FROM check_all();
-- DELETE of the last match brings the NULL-extended row back
DELETE FROM ll WHERE oid = 2;
SELECT * FROM lv_plain WHERE id = 2;
SELECT * FROM check_all();
-- a NULL key never matches
INSERT INTO ll VALUES (NULL, 3, 'x');
INSERT INTO lo VALUES (NULL, 10, 'n');
SELECT * FROM check_all();
-- preserved side: insert with and without matches, delete, key updates
INSERT INTO lo VALUES (9, 30, 'f'), (5, 10, 'g');
DELETE FROM lo WHERE id = 3;
UPDATE lo SET id = 3 WHERE id = 1;
SELECT * FROM check_all();
-- nullable side: key updates move lines between orders (last match out, first match in)
UPDATE ll SET oid = 5 WHERE oid = 3;
UPDATE ll SET oid = 1 WHERE qty = 9;
UPDATE ll SET tag = 'x' WHERE oid = 3;
SELECT * FROM check_all();
-- duplicates: identical preserved rows and identical lines
INSERT INTO lo VALUES (7, 20, 'h'), (7, 20, 'h');
INSERT INTO ll VALUES (7, 1, 'x'), (7, 1, 'x');
DELETE FROM ll WHERE ctid = (SELECT min(ctid) FROM ll WHERE oid = 7);
SELECT * FROM check_all();
DELETE FROM ll WHERE oid = 7;
SELECT * FROM check_all();
-- the third table
UPDATE lc SET seg = 'BUILDING' WHERE cust = 20;
INSERT INTO lc VALUES (10, 'BUILDING');
DELETE FROM lc WHERE cust = 30;
SELECT * FROM check_all();
-- one statement writing both sides (a writable CTE)
WITH o AS (INSERT INTO lo VALUES (11, 10, 'i') RETURNING id)
INSERT INTO ll SELECT id, 4, 'x' FROM o;
WITH d AS (DELETE FROM lo WHERE id = 5 RETURNING id)
UPDATE ll SET oid = 11 WHERE oid IN (SELECT id FROM d) OR oid = 1;
SELECT * FROM check_all();
-- MERGE
MERGE INTO ll t USING (VALUES (9, 50), (11, 51), (12, 52)) s(k, q) ON t.oid = s.k AND t.qty = 4
  WHEN MATCHED THEN DELETE
  WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.q, 'x');
SELECT * FROM check_all();
-- COPY
COPY ll FROM stdin;
9	60	x
\N	61	x
12	62	y
\.
COPY lo FROM stdin;
12	20	j
13	20	k
\.
SELECT * FROM check_all();
-- ON CONFLICT
CREATE UNIQUE INDEX ON ll (qty);
INSERT INTO ll VALUES (13, 62, 'x') ON CONFLICT (qty) DO UPDATE SET oid = excluded.oid;
INSERT INTO ll VALUES (4, 62, 'x') ON CONFLICT (qty) DO NOTHING;
INSERT INTO ll VALUES (4, 63, 'x') ON CONFLICT (qty) DO NOTHING;
SELECT * FROM check_all();
DROP INDEX ll_qty_idx;
-- savepoints: rolled back and released, an aborted transaction
BEGIN;
INSERT INTO ll VALUES (12, 70, 'x');
SAVEPOINT s1;
DELETE FROM ll WHERE oid = 12;
INSERT INTO lo VALUES (14, 10, 'l');
SELECT count(*) AS diffs FROM check_all();
ROLLBACK TO SAVEPOINT s1;
SELECT count(*) AS diffs FROM check_all();
SAVEPOINT s2;
DELETE FROM ll WHERE oid = 13;
RELEASE SAVEPOINT s2;
SELECT count(*) AS diffs FROM check_all();
COMMIT;
SELECT * FROM check_all();
BEGIN;
DELETE FROM ll;
SELECT count(*) AS diffs FROM check_all();
ROLLBACK;
SELECT * FROM check_all();
-- TRUNCATE of the nullable side: every preserved row NULL-extended
BEGIN;
TRUNCATE ll;
SELECT count(*) AS diffs, (SELECT count(*) FROM lv_plain WHERE qty IS NOT NULL) AS matched FROM check_all();
ROLLBACK;
TRUNCATE lo;
INSERT INTO lo VALUES (1, 10, 'a'), (12, 20, 'b'), (NULL, 10, 'c');
SELECT * FROM check_all();
SELECT * FROM lv_plain ORDER BY id, qty;
-- refresh_view agrees
SELECT parallel_material.refresh_view('lv_plain'::regclass) >= 0 AS refreshed;
SELECT * FROM check_all();

-- a cross-type key (bigint = integer), and a key type with a hash equality only (xid: the
-- touched keys are matched by EXISTS, not made distinct); an output column named x (view_check
-- read it in place of the whole row before its row alias was renamed: every row with x NULL
-- differed, and a wrong row with the right x would have passed)
CREATE TABLE lk8 (id bigint, x xid, note text);
CREATE TABLE lk4 (oid int, x xid, n int);
INSERT INTO lk8 VALUES (1, '1', 'a'), (2, '2', 'b'), (NULL, NULL, 'c');
INSERT INTO lk4 VALUES (1, '1', 10), (3, '3', 30);
SELECT parallel_material.create_view('lv_cross',
  'SELECT a.id, a.note, b.n FROM lk8 a LEFT JOIN lk4 b ON b.oid = a.id') IS NOT NULL AS created;
SELECT parallel_material.create_view('lv_xid',
  'SELECT a.x, a.note, b.n FROM lk8 a LEFT JOIN lk4 b ON b.x = a.x') IS NOT NULL AS created;
INSERT INTO lk4 VALUES (2, '2', 20), (2, '2', 21), (NULL, NULL, 0);
DELETE FROM lk4 WHERE n = 10;
UPDATE lk4 SET oid = 1, x = '1' WHERE n = 30;
INSERT INTO lk8 VALUES (3, '3', 'd');
SELECT * FROM parallel_material.view_check('lv_cross');
SELECT * FROM parallel_material.view_check('lv_xid');
SELECT * FROM lv_cross ORDER BY id, n;
SELECT count(*) AS xid_rows FROM lv_xid;
SELECT parallel_material.drop_view('lv_cross'), parallel_material.drop_view('lv_xid');
DROP TABLE lk8, lk4;

-- refusals: each outer-join shape that is not proven fails with 0A000 naming it
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('SELECT parallel_material.create_view(%L, %L)', 'lv_bad', q);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $f$;
SELECT pg_temp.err('SELECT o.id, l.qty FROM lo o FULL JOIN ll l ON l.oid = o.id');
SELECT pg_temp.err('SELECT o.id, l.qty, c.seg FROM lo o LEFT JOIN ll l ON l.oid = o.id LEFT JOIN lc c ON c.cust = o.cust');
SELECT pg_temp.err('SELECT o.id, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id JOIN lc c ON c.cust = o.cust RIGHT JOIN lo o2 ON o2.id = o.id');
SELECT pg_temp.err('SELECT o.id, l.qty FROM lo o LEFT JOIN (ll l JOIN lc c ON c.cust = l.qty) ON l.oid = o.id');
SELECT pg_temp.err('SELECT o.id, l.qty FROM (ll l JOIN lc c ON c.cust = l.qty) RIGHT JOIN lo o ON l.oid = o.id');
SELECT pg_temp.err('SELECT o.id, l.qty FROM lo o LEFT JOIN ll l ON l.oid > o.id');
SELECT pg_temp.err('SELECT o.id, l.qty FROM lo o LEFT JOIN ll l ON true');
SELECT pg_temp.err('SELECT o.note, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id');
SELECT pg_temp.err('SELECT o.id + 0 AS id, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id');
-- aggregates over a LEFT JOIN are built (views_left_agg); grouping by the nullable side is not
SELECT pg_temp.err('SELECT l.qty, count(*) AS n FROM lo o LEFT JOIN ll l ON l.oid = o.id GROUP BY l.qty');
SELECT pg_temp.err('SELECT DISTINCT o.id, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id');
-- and with its hint
\set VERBOSITY default
SELECT parallel_material.create_view('lv_bad', 'SELECT o.note, l.qty FROM lo o LEFT JOIN ll l ON l.oid = o.id');
\set VERBOSITY terse

-- row-level security that a (non-superuser) owner forced on the view table: a policy could hide
-- rows from the recompute's read of the table and leave the view silently wrong, so a write of
-- the nullable side fails instead
CREATE ROLE lv_owner LOGIN;
GRANT CREATE ON SCHEMA public TO lv_owner;
SET ROLE lv_owner;
CREATE TABLE ro (id int);
CREATE TABLE rl (oid int, n int);
INSERT INTO ro VALUES (1), (2);
INSERT INTO rl VALUES (1, 10);
SELECT parallel_material.create_view('lv_rls', 'SELECT ro.id, rl.n FROM ro LEFT JOIN rl ON rl.oid = ro.id') IS NOT NULL AS created;
ALTER TABLE lv_rls ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY hide ON lv_rls FOR SELECT USING (false);
CREATE POLICY ins ON lv_rls FOR INSERT WITH CHECK (true);
CREATE POLICY del ON lv_rls FOR DELETE USING (true);
\set VERBOSITY default
INSERT INTO rl VALUES (1, 11);
\set VERBOSITY terse
INSERT INTO ro VALUES (3);  -- the preserved side's delta does not read the table
ALTER TABLE lv_rls NO FORCE ROW LEVEL SECURITY;
INSERT INTO rl VALUES (2, 20);
RESET ROLE;
SELECT * FROM parallel_material.view_check('lv_rls');
SELECT * FROM lv_rls ORDER BY id, n;
SELECT parallel_material.drop_view('lv_rls');
DROP TABLE ro, rl;
REVOKE CREATE ON SCHEMA public FROM lv_owner;
DROP ROLE lv_owner;

SELECT parallel_material.drop_view(v::regclass)
  FROM unnest(ARRAY['lv_plain', 'lv_onfilter', 'lv_three', 'lv_right', 'lv_self', 'lv_where']) v;
DROP FUNCTION check_all();
DROP TABLE lo, ll, lc;
