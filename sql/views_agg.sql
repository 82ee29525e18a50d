-- views_agg: aggregate and DISTINCT maintained views (docs/views.md, "Aggregate and DISTINCT
-- views"): GROUP BY with count(*), count(x), sum, avg, min, max over inner equi-joins, and
-- SELECT DISTINCT; every refusal; every write kind with view_check after each (no row: the
-- table's visible columns equal the query's result, types included).
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

CREATE TABLE ord (o_key int PRIMARY KEY, o_cust int, o_prio text);
CREATE TABLE line (l_ord int, l_qty int, l_price numeric, l_big bigint, l_tag text);
INSERT INTO ord SELECT g, g % 5, CASE WHEN g % 3 = 0 THEN NULL ELSE 'p' || g % 3 END FROM generate_series(1, 20) g;
INSERT INTO line SELECT g % 20 + 1, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 9 END, (g % 11) * 1.25,
                        g * 1000000000::bigint, 't' || g % 4
  FROM generate_series(1, 120) g;

-- every supported aggregate, a NULL-able group key (o_prio), a key not in the output (o_cust)
SELECT parallel_material.create_view('va_all', $$
  SELECT o.o_prio, count(*) AS n, count(l.l_qty) AS nq, sum(l.l_qty) AS sq, avg(l.l_qty) AS aq,
         sum(l.l_price) AS sp, avg(l.l_price) AS ap, sum(l.l_big) AS sb, avg(l.l_big) AS ab,
         min(l.l_qty) AS mnq, max(l.l_qty) AS mxq, min(l.l_tag) AS mnt, max(l.l_price) AS mxp
    FROM ord o JOIN line l ON l.l_ord = o.o_key
   GROUP BY o.o_prio, o.o_cust $$) IS NOT NULL AS created;
SELECT pg_temp.chk('va_all');
-- the visible columns have the query's types; hidden ones follow
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'va_all'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) FROM va_all;
-- an index on the group key columns
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'va_all'::regclass;

-- a DISTINCT view and a GROUP BY of an expression
SELECT parallel_material.create_view('va_dist', $$
  SELECT DISTINCT o.o_cust, l.l_tag FROM ord o JOIN line l ON l.l_ord = o.o_key WHERE l.l_qty > 2 $$) IS NOT NULL AS created;
SELECT parallel_material.create_view('va_expr', $$
  SELECT l.l_ord % 3 AS m, count(*) AS n, max(o.o_prio) AS mp
    FROM ord o JOIN line l ON l.l_ord = o.o_key GROUP BY l.l_ord % 3 $$) IS NOT NULL AS created;
-- min and max alone (no numeric sum whose deletes recompute the group anyway)
SELECT parallel_material.create_view('va_mm', $$
  SELECT o.o_cust, min(l.l_qty) AS mn, max(l.l_qty) AS mx, max(l.l_tag) AS mt, count(*) AS n
    FROM ord o JOIN line l ON l.l_ord = o.o_key GROUP BY o.o_cust $$) IS NOT NULL AS created;
SELECT pg_temp.chk('va_dist'), pg_temp.chk('va_expr'), pg_temp.chk('va_mm');

CREATE PROCEDURE pg_temp.chk_all() LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    r := pg_temp.chk('va_all') || ' / ' || pg_temp.chk('va_dist') || ' / ' || pg_temp.chk('va_expr') || ' / ' || pg_temp.chk('va_mm');
    RAISE NOTICE '%', r;
END $$;
SET client_min_messages = notice;

-- inserts: into existing groups, new groups, NULL arguments, NULL group keys
INSERT INTO line VALUES (1, 100, 99.125, 5, 'zz'), (1, NULL, NULL, NULL, NULL), (2, -5, 0.5, -7, 'a');
CALL pg_temp.chk_all();
INSERT INTO ord VALUES (21, 9, 'new'), (22, 9, NULL);
INSERT INTO line VALUES (21, 1, 1.5, 1, 'x'), (22, NULL, NULL, NULL, NULL);
CALL pg_temp.chk_all();
SELECT * FROM va_all WHERE o_prio = 'new' OR (o_prio IS NULL AND nq = 0) ORDER BY o_prio NULLS FIRST;
-- a group whose arguments are all NULL: count 1, sum and avg NULL
SELECT n, nq, sq, aq, sp, mnq FROM va_all WHERE n = 1 AND nq = 0;
-- deletes: a group's min and max deleted (recomputed from the query), groups disappearing
DELETE FROM line WHERE l_qty = 100;
CALL pg_temp.chk_all();
SELECT o_cust, mn, mx FROM va_mm ORDER BY o_cust;
UPDATE line SET l_qty = l_qty - 1 WHERE l_qty = (SELECT max(l_qty) FROM line);
CALL pg_temp.chk_all();
DELETE FROM line WHERE l_ord = 2 AND l_qty = (SELECT min(l_qty) FROM line WHERE l_ord = 2);
CALL pg_temp.chk_all();
DELETE FROM line WHERE l_ord IN (21, 22);
CALL pg_temp.chk_all();
SELECT count(*) FROM va_all WHERE o_prio = 'new';
-- numeric sums keep their display scale when the value with the largest scale goes
INSERT INTO line VALUES (3, NULL, 1.123456, 1, 'zzz');
CALL pg_temp.chk_all();
DELETE FROM line WHERE l_price = 1.123456;
CALL pg_temp.chk_all();
-- UPDATE of an argument, of a group key (rows move between groups), of a join key
UPDATE line SET l_qty = l_qty + 1 WHERE l_ord % 4 = 0;
CALL pg_temp.chk_all();
UPDATE ord SET o_prio = 'moved' WHERE o_key % 4 = 1;
CALL pg_temp.chk_all();
UPDATE ord SET o_prio = NULL WHERE o_prio = 'moved' AND o_key < 10;
CALL pg_temp.chk_all();
UPDATE line SET l_ord = l_ord + 1 WHERE l_tag = 't1';
CALL pg_temp.chk_all();
UPDATE ord SET o_key = o_key + 100 WHERE o_key BETWEEN 5 AND 7;
CALL pg_temp.chk_all();
-- an update that changes nothing visible
UPDATE line SET l_tag = l_tag;
CALL pg_temp.chk_all();
-- both inputs in one statement (writable CTE): cross terms cancel before min/max see them
WITH u AS (UPDATE ord SET o_key = o_key + 1000 WHERE o_key = 8 RETURNING o_key)
UPDATE line SET l_ord = 1008, l_qty = -50 WHERE l_ord = 8;
CALL pg_temp.chk_all();
SELECT mnq FROM va_all WHERE mnq = -50;
-- savepoints rolled back and released, an aborted transaction
BEGIN;
INSERT INTO line VALUES (9, 500, 5, 5, 'sv');
SAVEPOINT s1;
DELETE FROM line WHERE l_ord = 9;
UPDATE ord SET o_prio = 'gone' WHERE o_key = 10;
CALL pg_temp.chk_all();
ROLLBACK TO SAVEPOINT s1;
CALL pg_temp.chk_all();
SAVEPOINT s2;
DELETE FROM line WHERE l_qty = 500;
RELEASE SAVEPOINT s2;
CALL pg_temp.chk_all();
COMMIT;
CALL pg_temp.chk_all();
BEGIN;
DELETE FROM line;
CALL pg_temp.chk_all();
ROLLBACK;
CALL pg_temp.chk_all();
-- a PL/pgSQL exception block
DO $$ BEGIN
    DELETE FROM ord WHERE o_key < 15;
    RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN NULL;
END $$;
CALL pg_temp.chk_all();
-- MERGE, COPY, ON CONFLICT
MERGE INTO ord o USING (SELECT g FROM generate_series(10, 30) g) s ON o.o_key = s.g
  WHEN MATCHED THEN UPDATE SET o_cust = o.o_cust + 1
  WHEN NOT MATCHED THEN INSERT VALUES (s.g, 2, 'm');
CALL pg_temp.chk_all();
COPY line FROM STDIN;
25	3	2.5	3	c1
26	\N	\N	\N	c2
\.
CALL pg_temp.chk_all();
INSERT INTO ord VALUES (25, 4, 'conflict') ON CONFLICT (o_key) DO UPDATE SET o_prio = EXCLUDED.o_prio;
CALL pg_temp.chk_all();
-- TRUNCATE recomputes (empty), refilled afterwards
BEGIN;
TRUNCATE line;
CALL pg_temp.chk_all();
SELECT count(*) FROM va_all;
INSERT INTO line SELECT g % 30 + 1, g % 6, g * 0.5, g, 't' || g % 3 FROM generate_series(1, 60) g;
CALL pg_temp.chk_all();
COMMIT;
-- refresh_view gives the same table
SELECT parallel_material.refresh_view('va_all') > 0 AS refreshed;
CALL pg_temp.chk_all();
-- written behind the maintenance's back: the next write of that group fails (out of step)
UPDATE va_all SET __pm_count = 0 WHERE o_prio = 'm';
SELECT pg_temp.err($$DELETE FROM line WHERE l_ord IN (SELECT o_key FROM ord WHERE o_prio = 'm')$$) ~ 'out of step' AS out_of_step;
SELECT parallel_material.refresh_view('va_all') > 0 AS refreshed;

-- a role that may write line (not read ord nor the views) maintains them, recomputes included
-- (maintenance runs as the views' owner)
CREATE ROLE va_writer LOGIN;
GRANT INSERT, DELETE ON line TO va_writer;
GRANT SELECT (l_qty) ON line TO va_writer;
SET ROLE va_writer;
INSERT INTO line VALUES (3, 1000, 1, 1, 'w');
DELETE FROM line WHERE l_qty = 1000;
SELECT pg_temp.err('SELECT count(*) FROM va_mm');
RESET ROLE;
CALL pg_temp.chk_all();
REVOKE ALL ON line FROM va_writer;
DROP ROLE va_writer;

-- refusals (0A000 with a hint)
SET client_min_messages = warning;
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(*) AS n FROM ord GROUP BY o_cust HAVING bool_and(o_prio IS NULL)')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(*) FILTER (WHERE o_key > 1) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(DISTINCT o_prio) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, string_agg(o_prio, '','' ORDER BY o_prio) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, array_agg(o_prio) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, sum(o_key::float8) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(*) + 1 AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust + 1 AS c, count(*) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, o_prio, count(*) AS n FROM ord GROUP BY ROLLUP (o_cust, o_prio)')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT count(*) AS n FROM ord HAVING sum(o_key::float8) > 0')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT DISTINCT ON (o_cust) o_cust, o_key FROM ord')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT DISTINCT o_cust, count(*) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, percentile_disc(0.5) WITHIN GROUP (ORDER BY o_key) AS n FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT ROW(o_cust, o_prio) AS r, count(*) AS n FROM ord GROUP BY 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(*) AS __pm_count FROM ord GROUP BY o_cust')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('va_x', 'SELECT o_cust, count(*) AS n, sum(o_key) OVER () AS w FROM ord GROUP BY o_cust, o_key')$$);

SELECT parallel_material.drop_view(v) FROM unnest(ARRAY['va_all', 'va_dist', 'va_expr', 'va_mm']::regclass[]) v;
DROP TABLE ord, line;
