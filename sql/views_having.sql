-- views_having: aggregate views with HAVING (docs/views.md, "Aggregate and DISTINCT views"): a
-- group's row is in the view iff its HAVING holds. Every group a write changes is recomputed
-- through the query restricted to its key (with the HAVING), so groups enter and leave the view
-- as their aggregates cross the condition, including aggregates the view does not output.
-- view_check after each write; refusals.
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

CREATE TABLE ho (o_key int PRIMARY KEY, o_cust int, o_prio text);
CREATE TABLE hl (l_ord int, l_qty int, l_price numeric);
INSERT INTO ho SELECT g, g % 4, CASE WHEN g % 5 = 0 THEN NULL ELSE 'p' || g % 2 END FROM generate_series(1, 12) g;
INSERT INTO hl SELECT g % 12 + 1, g % 7, (g % 5) * 1.5 FROM generate_series(1, 40) g;

-- HAVING on an output aggregate, on one the view does not output, on a group key (NULL keys too)
SELECT parallel_material.create_view('vh_cnt', $$
  SELECT o.o_cust, count(*) AS n, sum(l.l_price) AS s
    FROM ho o JOIN hl l ON l.l_ord = o.o_key GROUP BY o.o_cust HAVING count(*) > 10 $$) IS NOT NULL AS created;
SELECT parallel_material.create_view('vh_hidden', $$
  SELECT o.o_prio, count(*) AS n
    FROM ho o JOIN hl l ON l.l_ord = o.o_key GROUP BY o.o_prio
  HAVING max(l.l_qty) >= 6 AND sum(l.l_price) < 40 OR o.o_prio IS NULL $$) IS NOT NULL AS created;
-- HAVING without GROUP BY: zero or one row
SELECT parallel_material.create_view('vh_one', $$
  SELECT count(*) AS n, min(l.l_qty) AS mn FROM ho o JOIN hl l ON l.l_ord = o.o_key
  HAVING sum(l.l_qty) > 100 $$) IS NOT NULL AS created;
-- DISTINCT is not HAVING's place; a group key expression in HAVING
SELECT parallel_material.create_view('vh_key', $$
  SELECT l.l_ord % 3 AS m, avg(l.l_qty) AS a FROM hl l JOIN ho o ON o.o_key = l.l_ord
   GROUP BY l.l_ord % 3 HAVING l.l_ord % 3 <> 1 AND min(o.o_cust) = 0 $$) IS NOT NULL AS created;

CREATE PROCEDURE pg_temp.show() LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    SELECT format('%s / %s / %s / %s | %s | %s | %s', pg_temp.chk('vh_cnt'), pg_temp.chk('vh_hidden'),
                  pg_temp.chk('vh_one'), pg_temp.chk('vh_key'),
                  (SELECT string_agg(o_cust || ':' || n, ' ' ORDER BY o_cust) FROM vh_cnt),
                  (SELECT string_agg(coalesce(o_prio, 'NULL') || ':' || n, ' ' ORDER BY o_prio) FROM vh_hidden),
                  (SELECT string_agg(n || ':' || mn, ' ') FROM vh_one)) INTO r;
    RAISE NOTICE '%', r;
END $$;
SET client_min_messages = notice;
CALL pg_temp.show();

-- groups cross the condition both ways
INSERT INTO hl SELECT 4, 1, 1 FROM generate_series(1, 3);   -- cust 0 reaches 11 rows
CALL pg_temp.show();
DELETE FROM hl WHERE l_ord = 4 AND l_qty = 1 AND l_price = 1;
CALL pg_temp.show();
INSERT INTO hl SELECT g % 12 + 1, 6, 9 FROM generate_series(1, 12) g;   -- sums pass 100, 40
CALL pg_temp.show();
UPDATE hl SET l_price = 0 WHERE l_qty = 6;   -- back under 40
CALL pg_temp.show();
UPDATE ho SET o_cust = 1 WHERE o_key IN (4, 8);   -- group key moves rows between groups
CALL pg_temp.show();
UPDATE ho SET o_prio = NULL WHERE o_key = 1;
CALL pg_temp.show();
-- savepoint, abort, TRUNCATE
BEGIN;
DELETE FROM hl WHERE l_qty < 3;
SAVEPOINT s;
DELETE FROM hl;
CALL pg_temp.show();
ROLLBACK TO s;
CALL pg_temp.show();
COMMIT;
CALL pg_temp.show();
BEGIN;
INSERT INTO hl SELECT 2, 6, 1 FROM generate_series(1, 50);
CALL pg_temp.show();
ROLLBACK;
CALL pg_temp.show();
TRUNCATE hl;
CALL pg_temp.show();
INSERT INTO hl SELECT g % 12 + 1, g % 7, (g % 5) * 1.5 FROM generate_series(1, 80) g;
CALL pg_temp.show();
SELECT parallel_material.refresh_view('vh_cnt') >= 0 AS refreshed;
CALL pg_temp.show();

-- refused: HAVING with an unsupported aggregate, FILTER, a float sum, a volatile function
SET client_min_messages = warning;
SELECT pg_temp.err($$SELECT parallel_material.create_view('vh_x', 'SELECT o_cust, count(*) AS n FROM ho GROUP BY o_cust HAVING bool_or(o_prio IS NULL)')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('vh_x', 'SELECT o_cust, count(*) AS n FROM ho GROUP BY o_cust HAVING count(*) FILTER (WHERE o_key > 2) > 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('vh_x', 'SELECT o_cust, count(*) AS n FROM ho GROUP BY o_cust HAVING sum(o_key::float8) > 1')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('vh_x', 'SELECT o_cust, count(*) AS n FROM ho GROUP BY o_cust HAVING count(*) > random()')$$);
SELECT parallel_material.drop_view(v) FROM unnest(ARRAY['vh_cnt', 'vh_hidden', 'vh_one', 'vh_key']::regclass[]) v;
DROP TABLE ho, hl;
