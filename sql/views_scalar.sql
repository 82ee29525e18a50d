-- views_scalar: maintained views of aggregates without GROUP BY (docs/views.md, "Aggregate and
-- DISTINCT views"): exactly one row always, as the query returns; over no input row count is 0
-- and sum, avg, min, max are NULL. Created over empty inputs, filled, emptied by DELETE, by
-- TRUNCATE, savepoints rolled back, an aborted transaction, a deleted min/max, refresh_view, a
-- table written behind the maintenance's back; view_check after each write.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.chk(v regclass) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(side || ' ' || copies || 'x ' || row_text, '; ' ORDER BY row_text, side), 'exact')
      FROM parallel_material.view_check(v) $$;
SET client_min_messages = warning;

CREATE TABLE sa (id int, k int, x int, y numeric, t text);
CREATE TABLE sb (k int, w int);

-- created over empty inputs: one row, count 0, the others NULL
SELECT parallel_material.create_view('vs_all', $$
  SELECT count(*) AS n, count(sa.x) AS nx, sum(sa.x) AS sx, avg(sa.x) AS ax, sum(sa.y) AS sy,
         avg(sa.y) AS ay, min(sa.x) AS mnx, max(sa.t) AS mxt, max(sb.w) AS mxw
    FROM sa JOIN sb ON sa.k = sb.k WHERE sb.w > 0 $$) IS NOT NULL AS created;
-- one table, min and max alone
SELECT parallel_material.create_view('vs_one', $$
  SELECT min(x) AS mn, max(x) AS mx, count(*) AS n FROM sa $$) IS NOT NULL AS created;
SELECT * FROM vs_all;
SELECT * FROM vs_one;
SELECT pg_temp.chk('vs_all'), pg_temp.chk('vs_one');
-- the visible columns have the query's types, hidden ones follow; no group index
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'vs_all'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid IN ('vs_all'::regclass, 'vs_one'::regclass);

CREATE PROCEDURE pg_temp.show() LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    SELECT format('vs_all %s / vs_one %s | rows %s %s | %s | %s', pg_temp.chk('vs_all'), pg_temp.chk('vs_one'),
                  (SELECT count(*) FROM vs_all), (SELECT count(*) FROM vs_one),
                  (SELECT row(n, nx, sx, ax, sy, ay, mnx, mxt, mxw)::text FROM vs_all),
                  (SELECT row(mn, mx, n)::text FROM vs_one)) INTO r;
    RAISE NOTICE '%', r;
END $$;
SET client_min_messages = notice;

-- the first rows
INSERT INTO sb VALUES (1, 5), (2, 0), (3, 7);
CALL pg_temp.show();
INSERT INTO sa VALUES (1, 1, 10, 1.5, 'b'), (2, 1, NULL, NULL, NULL), (3, 2, 99, 9, 'z'), (4, 3, 4, 2.25, 'a');
CALL pg_temp.show();
-- more, a new min and max
INSERT INTO sa VALUES (5, 3, -2, 0.125, 'c'), (6, 1, 50, 3, 'd');
CALL pg_temp.show();
-- deletes: the min (recomputed), a value above it, NULLs
DELETE FROM sa WHERE x = -2;
CALL pg_temp.show();
DELETE FROM sa WHERE id = 2;
CALL pg_temp.show();
-- updates of arguments and of the join key
UPDATE sa SET x = x + 1, y = y * 2 WHERE id IN (1, 4);
CALL pg_temp.show();
UPDATE sa SET k = 2 WHERE id = 6;
CALL pg_temp.show();
UPDATE sb SET w = 1 WHERE k = 2;
CALL pg_temp.show();
-- every row deleted: the row stays, count 0 and the rest NULL
DELETE FROM sa;
CALL pg_temp.show();
-- and back from empty
INSERT INTO sa VALUES (7, 3, 8, 0.5, 'q'), (8, 3, 8, 0.50, 'q');
CALL pg_temp.show();
-- the join side emptied
DELETE FROM sb;
CALL pg_temp.show();
INSERT INTO sb VALUES (3, 2);
CALL pg_temp.show();

-- savepoints: the rolled-back part leaves nothing, the released one stays
BEGIN;
INSERT INTO sa VALUES (9, 3, 100, 10, 'zz');
SAVEPOINT s1;
DELETE FROM sa;
CALL pg_temp.show();
ROLLBACK TO s1;
CALL pg_temp.show();
SAVEPOINT s2;
DELETE FROM sa WHERE x = 100;
RELEASE s2;
INSERT INTO sa VALUES (10, 3, 1, 1, 'a');
COMMIT;
CALL pg_temp.show();
-- an aborted transaction
BEGIN;
DELETE FROM sa;
INSERT INTO sa VALUES (11, 3, 5000, 1, 'zzz');
ROLLBACK;
CALL pg_temp.show();

-- TRUNCATE: the row stays (recomputed: count 0); inside a transaction, refilled, rolled back
TRUNCATE sa;
CALL pg_temp.show();
INSERT INTO sa VALUES (12, 3, 6, 6, 'm'), (13, 1, 7, 7, 'n');
CALL pg_temp.show();
BEGIN;
TRUNCATE sb;
CALL pg_temp.show();
INSERT INTO sb VALUES (1, 9);
CALL pg_temp.show();
ROLLBACK;
CALL pg_temp.show();
BEGIN;
SAVEPOINT s3;
TRUNCATE sa, sb;
CALL pg_temp.show();
ROLLBACK TO s3;
COMMIT;
CALL pg_temp.show();

-- MERGE and COPY
MERGE INTO sa USING (VALUES (12, -40), (99, 41)) v(id, x) ON sa.id = v.id
  WHEN MATCHED THEN UPDATE SET x = v.x
  WHEN NOT MATCHED THEN INSERT VALUES (v.id, 3, v.x, 0.001, 'merge');
CALL pg_temp.show();
COPY sa FROM stdin;
14	3	\N	\N	\N
15	1	3	3.0	copy
\.
CALL pg_temp.show();

-- the table written behind the maintenance's back: the next write fails (never a wrong view);
-- refresh_view repairs it
SET client_min_messages = warning;
DELETE FROM vs_one;
SELECT pg_temp.err('INSERT INTO sa VALUES (16, 3, 1, 1, ''x'')');
INSERT INTO vs_one VALUES (1, 2, 3, 4), (1, 2, 3, 4);
SELECT pg_temp.err('INSERT INTO sa VALUES (16, 3, 1, 1, ''x'')');
SELECT parallel_material.refresh_view('vs_one');
SELECT count(*) FROM vs_one;
SELECT pg_temp.chk('vs_one');
SET client_min_messages = notice;
INSERT INTO sa VALUES (16, 3, 1, 1, 'x');
CALL pg_temp.show();

-- a role that may only write an input maintains the owner's view (and cannot read it)
CREATE ROLE pm_vs_writer LOGIN;
GRANT INSERT, DELETE, SELECT ON sa TO pm_vs_writer;
SET ROLE pm_vs_writer;
INSERT INTO sa VALUES (17, 3, -9, 1, 'w');
DELETE FROM sa WHERE id = 17;
SELECT pg_temp.err('SELECT * FROM vs_all');
RESET ROLE;
CALL pg_temp.show();
REVOKE ALL ON sa FROM pm_vs_writer;
DROP ROLE pm_vs_writer;

-- still refused: HAVING over an unsupported aggregate, expressions over aggregates
SELECT pg_temp.err($$SELECT parallel_material.create_view('vs_x', 'SELECT count(*) AS n FROM sa HAVING count(*) FILTER (WHERE x > 0) > 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('vs_x', 'SELECT count(*) + 1 AS n FROM sa')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('vs_x', 'SELECT sum(x::float8) AS n FROM sa')$$);

SET client_min_messages = warning;
SELECT parallel_material.drop_view('vs_all'), parallel_material.drop_view('vs_one');
DROP TABLE sa, sb;
