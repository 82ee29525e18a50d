-- views_left_differential: random sequences of writes (fixed seed) to the inputs of LEFT JOIN
-- views (docs/views.md, "LEFT JOIN views") — first matches inserted, last matches deleted, join
-- keys updated on both sides, NULL keys (which never match), duplicate rows, statements writing
-- both sides, savepoints and transactions rolled back — with view_check of every view after
-- every statement, inside the writing transaction, and after each commit. Expected: no failure.
SET client_min_messages = warning;
CREATE TABLE la (k int, v int, tag text);
CREATE TABLE lb (k int, w int);
CREATE TABLE lx (v int, y int);
SELECT setseed(0.5151);
INSERT INTO la SELECT (random() * 10)::int, (random() * 5)::int, 't' || (random() * 2)::int FROM generate_series(1, 25);
INSERT INTO lb SELECT (random() * 14)::int, (random() * 6)::int FROM generate_series(1, 20);
INSERT INTO lx SELECT (random() * 5)::int, (random() * 9)::int FROM generate_series(1, 8);

SELECT parallel_material.create_view('dl_plain',
  'SELECT la.k, la.v, la.tag, lb.w FROM la LEFT JOIN lb ON lb.k = la.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_filter',
  'SELECT la.k, lb.w FROM la LEFT JOIN lb ON la.k = lb.k AND lb.w % 2 = 0') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_three',
  'SELECT lx.y, la.k, coalesce(lb.w, -1) AS w FROM lx JOIN la ON la.v = lx.v LEFT JOIN lb ON lb.k = la.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_self',
  'SELECT a.k, a.tag, b.k AS bk FROM la a LEFT JOIN la b ON b.v = a.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_where',
  'SELECT la.k, lb.w FROM la LEFT JOIN lb ON lb.k = la.k WHERE lb.w IS NULL OR lb.w > 2') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_right',
  'SELECT la.k AS ak, lb.w FROM lb RIGHT JOIN la ON la.k = lb.k') IS NOT NULL AS created;
-- USING, and an inner join above that reads the nullable side (null-rejecting)
SELECT parallel_material.create_view('dl_using',
  'SELECT k, la.v, lb.w FROM la LEFT JOIN lb USING (k)') IS NOT NULL AS created;
SELECT parallel_material.create_view('dl_above',
  'SELECT la.k, lx.y FROM la LEFT JOIN lb ON lb.k = la.k JOIN lx ON lx.v = lb.w') IS NOT NULL AS created;

CREATE TABLE diff_log (step int, in_xact bool, view text, diff text);
CREATE TABLE diff_counts (checks int);
INSERT INTO diff_counts VALUES (0);

CREATE PROCEDURE check_all(step int, in_xact bool) LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['dl_plain', 'dl_filter', 'dl_three', 'dl_self', 'dl_where', 'dl_right', 'dl_using', 'dl_above'] LOOP
        INSERT INTO diff_log SELECT step, in_xact, v, side || ' ' || copies || 'x ' || row_text
          FROM parallel_material.view_check(v::regclass);
    END LOOP;
    UPDATE diff_counts SET checks = checks + 8;
END $$;

CREATE FUNCTION pg_temp.rnd(n int) RETURNS int LANGUAGE sql AS $$ SELECT (random() * n)::int $$;
CREATE FUNCTION pg_temp.rnull(n int) RETURNS int LANGUAGE sql AS
  $$ SELECT CASE WHEN random() < 0.1 THEN NULL ELSE (random() * n)::int END $$;
CREATE PROCEDURE random_write() LANGUAGE plpgsql AS $$
DECLARE
    op int := pg_temp.rnd(13);
    x int;
BEGIN
    CASE op
    WHEN 0 THEN INSERT INTO la SELECT pg_temp.rnull(14), pg_temp.rnull(5), 't' || pg_temp.rnd(2) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 1 THEN INSERT INTO lb SELECT pg_temp.rnull(14), pg_temp.rnd(6) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 2 THEN  -- the first match of a preserved row that has none
        SELECT la.k INTO x FROM la WHERE la.k IS NOT NULL AND NOT EXISTS (SELECT FROM lb WHERE lb.k = la.k) ORDER BY random() LIMIT 1;
        INSERT INTO lb VALUES (x, pg_temp.rnd(6));
    WHEN 3 THEN  -- the last matches of a key
        DELETE FROM lb WHERE k = pg_temp.rnd(14);
    WHEN 4 THEN DELETE FROM lb WHERE ctid IN (SELECT ctid FROM lb WHERE k = pg_temp.rnd(14) LIMIT 1);
    WHEN 5 THEN UPDATE lb SET k = pg_temp.rnull(14) WHERE k = pg_temp.rnd(14);
    WHEN 6 THEN UPDATE lb SET w = pg_temp.rnd(6) WHERE k = pg_temp.rnd(14);
    WHEN 7 THEN UPDATE la SET k = pg_temp.rnull(14) WHERE v = pg_temp.rnd(5);
    WHEN 8 THEN DELETE FROM la WHERE k = pg_temp.rnd(14) AND v % 2 = pg_temp.rnd(1);
    WHEN 9 THEN  -- duplicates on both sides
        SELECT k INTO x FROM la ORDER BY random() LIMIT 1;
        INSERT INTO la SELECT * FROM la WHERE k = x LIMIT 1;
        INSERT INTO lb SELECT * FROM lb WHERE k = x LIMIT 1;
    WHEN 10 THEN
        WITH moved AS (DELETE FROM lb WHERE k = pg_temp.rnd(14) RETURNING k, w)
        INSERT INTO la SELECT k, w % 5, 'm' FROM moved;
    WHEN 11 THEN
        WITH u AS (UPDATE la SET k = k + 1 WHERE k = pg_temp.rnd(14) RETURNING k)
        UPDATE lb SET k = k + 1 WHERE k IN (SELECT k FROM u);
    WHEN 12 THEN UPDATE lx SET v = pg_temp.rnd(5) WHERE y = pg_temp.rnd(9);
    ELSE
        INSERT INTO lx VALUES (pg_temp.rnull(5), pg_temp.rnd(9));
        DELETE FROM lx WHERE ctid IN (SELECT ctid FROM lx ORDER BY random() LIMIT 1);
    END CASE;
END $$;

\i sql/include/views_differential_run.psql
SELECT setseed(0.2718);
CALL run(150);

SELECT checks > 2000 AS enough_checks FROM diff_counts;
SELECT count(*) AS failures FROM diff_log;
SELECT * FROM diff_log ORDER BY step, view LIMIT 10;
-- the views did change along the way, and hold both kinds of rows
SELECT name, deltas_applied > 50 AS maintained FROM parallel_material.views ORDER BY name;
SELECT count(*) FILTER (WHERE w IS NULL) > 0 AS null_extended, count(*) FILTER (WHERE w IS NOT NULL) > 0 AS matched
  FROM dl_plain;

SELECT parallel_material.drop_view(v)
  FROM unnest(ARRAY['dl_plain', 'dl_filter', 'dl_three', 'dl_self', 'dl_where', 'dl_right', 'dl_using', 'dl_above']::regclass[]) v;
DROP TABLE la, lb, lx, diff_log, diff_counts;
DROP PROCEDURE run(int), random_write(), check_all(int, bool);
