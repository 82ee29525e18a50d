-- views_left_multi: several LEFT JOINs in one view (docs/views.md, "LEFT JOIN views", "Several
-- outer joins"): a chain a LEFT JOIN b LEFT JOIN c (c keyed by a column of b), a star a LEFT
-- JOIN b, a LEFT JOIN c, RIGHT JOINs, an inner join between them, and aggregates over two
-- LEFT JOINs. Random sequences of writes (fixed seed) to every input — NULL keys, first matches
-- replacing NULL-extended rows and last matches deleted, keys moving on every side, statements
-- writing two sides — with view_check of every view after every statement, inside the writing
-- transaction, and after each commit. Expected: no failure. Then the refusals.
SET client_min_messages = warning;
CREATE TABLE la (k int, j int, v int, tag text);
CREATE TABLE lb (k int, w int);
CREATE TABLE lc (w int, z int);
CREATE TABLE lx (v int, y int);
SELECT setseed(0.7171);
INSERT INTO la SELECT (random() * 10)::int, (random() * 6)::int, (random() * 5)::int, 't' || (random() * 2)::int FROM generate_series(1, 20);
INSERT INTO lb SELECT (random() * 14)::int, (random() * 6)::int FROM generate_series(1, 16);
INSERT INTO lc SELECT (random() * 8)::int, (random() * 9)::int FROM generate_series(1, 12);
INSERT INTO lx SELECT (random() * 5)::int, (random() * 9)::int FROM generate_series(1, 8);
-- statistics: never-analyzed tables are planned at thousands of rows each, and view_check's
-- grouping of their estimated product then dominates the suite's time
ANALYZE la, lb, lc, lx;

-- a chain: c hangs off the nullable side b
SELECT parallel_material.create_view('ml_chain',
  'SELECT la.k, la.tag, lb.w, lc.z FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = lb.w') IS NOT NULL AS created;
-- a star: b and c both off a
SELECT parallel_material.create_view('ml_star',
  'SELECT la.k, la.j, lb.w, lc.z FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = la.j') IS NOT NULL AS created;
-- RIGHT JOINs, an inner join in between, a filter in ON and one in WHERE
SELECT parallel_material.create_view('ml_mixed',
  'SELECT la.k, la.j, lx.y, lb.w, lc.z FROM lc RIGHT JOIN (lb RIGHT JOIN la ON la.k = lb.k AND lb.w > 1 JOIN lx ON lx.v = la.v) ON lc.w = la.j WHERE lc.z IS NULL OR lc.z > 2') IS NOT NULL AS created;
-- three outer joins: the chain and the star at once
SELECT parallel_material.create_view('ml_three',
  'SELECT la.k, la.j, lb.w, c1.z AS z1, c2.z AS z2 FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc c1 ON c1.w = lb.w LEFT JOIN lc c2 ON c2.w = la.j') IS NOT NULL AS created;
-- aggregates over two LEFT JOINs (every changed group recomputed)
SELECT parallel_material.create_view('ml_agg',
  'SELECT la.tag, count(*) AS n, count(lb.w) AS nb, count(lc.z) AS nc, sum(lc.z) AS sz FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = lb.w GROUP BY la.tag') IS NOT NULL AS created;
SELECT parallel_material.create_view('ml_agg_star',
  'SELECT la.k, count(lb.w) AS nb, max(lc.z) AS mz FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = la.j WHERE lb.w IS DISTINCT FROM 2 GROUP BY la.k') IS NOT NULL AS created;

SELECT name, rows FROM parallel_material.views ORDER BY name;

CREATE TABLE diff_log (step int, in_xact bool, view text, diff text);
CREATE TABLE diff_counts (checks int);
INSERT INTO diff_counts VALUES (0);

CREATE PROCEDURE check_all(step int, in_xact bool) LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['ml_chain', 'ml_star', 'ml_mixed', 'ml_three', 'ml_agg', 'ml_agg_star'] LOOP
        INSERT INTO diff_log SELECT step, in_xact, v, side || ' ' || copies || 'x ' || row_text
          FROM parallel_material.view_check(v::regclass);
    END LOOP;
    UPDATE diff_counts SET checks = checks + 6;
END $$;

CREATE FUNCTION pg_temp.rnd(n int) RETURNS int LANGUAGE sql AS $$ SELECT (random() * n)::int $$;
CREATE FUNCTION pg_temp.rnull(n int) RETURNS int LANGUAGE sql AS
  $$ SELECT CASE WHEN random() < 0.1 THEN NULL ELSE (random() * n)::int END $$;
CREATE PROCEDURE random_write() LANGUAGE plpgsql AS $$
DECLARE
    op int := pg_temp.rnd(15);
    x int;
BEGIN
    CASE op
    WHEN 0 THEN INSERT INTO la SELECT pg_temp.rnull(14), pg_temp.rnull(6), pg_temp.rnull(5), 't' || pg_temp.rnd(2) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 1 THEN INSERT INTO lb SELECT pg_temp.rnull(14), pg_temp.rnull(6) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 2 THEN INSERT INTO lc SELECT pg_temp.rnull(8), pg_temp.rnull(9) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 3 THEN  -- the first match in b of a preserved row that has none
        SELECT la.k INTO x FROM la WHERE la.k IS NOT NULL AND NOT EXISTS (SELECT FROM lb WHERE lb.k = la.k) ORDER BY random() LIMIT 1;
        INSERT INTO lb VALUES (x, pg_temp.rnd(6));
    WHEN 4 THEN  -- the first match in c of a b row that has none
        SELECT lb.w INTO x FROM lb WHERE lb.w IS NOT NULL AND NOT EXISTS (SELECT FROM lc WHERE lc.w = lb.w) ORDER BY random() LIMIT 1;
        INSERT INTO lc VALUES (x, pg_temp.rnd(9));
    WHEN 5 THEN DELETE FROM lb WHERE k = pg_temp.rnd(14);   -- last matches
    WHEN 6 THEN DELETE FROM lc WHERE w = pg_temp.rnd(8);
    WHEN 7 THEN UPDATE lb SET w = pg_temp.rnull(6) WHERE k = pg_temp.rnd(14);  -- b's row moves under c
    WHEN 8 THEN UPDATE lc SET w = pg_temp.rnull(8) WHERE z = pg_temp.rnd(9);
    WHEN 9 THEN UPDATE la SET k = pg_temp.rnull(14), j = pg_temp.rnull(6) WHERE v = pg_temp.rnd(5);
    WHEN 10 THEN DELETE FROM la WHERE k = pg_temp.rnd(14) AND v % 2 = pg_temp.rnd(1);
    WHEN 11 THEN  -- duplicates
        SELECT k INTO x FROM la ORDER BY random() LIMIT 1;
        INSERT INTO la SELECT * FROM la WHERE k = x LIMIT 1;
        INSERT INTO lb SELECT * FROM lb WHERE k = x LIMIT 1;
    WHEN 12 THEN  -- one statement writing b and c
        WITH moved AS (DELETE FROM lb WHERE k = pg_temp.rnd(14) RETURNING k, w)
        INSERT INTO lc SELECT w, k FROM moved;
    WHEN 13 THEN  -- one statement writing a and c
        WITH u AS (UPDATE la SET j = pg_temp.rnd(6) WHERE k = pg_temp.rnd(14) RETURNING j)
        UPDATE lc SET z = z + 1 WHERE w IN (SELECT j FROM u);
    WHEN 14 THEN UPDATE la SET tag = 't' || pg_temp.rnd(2) WHERE k = pg_temp.rnd(14);
    ELSE
        UPDATE lx SET v = pg_temp.rnd(5) WHERE y = pg_temp.rnd(9);
    END CASE;
END $$;

\i sql/include/views_differential_run.psql
SELECT setseed(0.1414);
CALL run(100);

SELECT checks > 1000 AS enough_checks FROM diff_counts;
SELECT count(*) AS failures FROM diff_log;
SELECT * FROM diff_log ORDER BY step, view LIMIT 10;
SELECT name, deltas_applied > 10 AS maintained FROM parallel_material.views ORDER BY name;
-- rows matched through both joins, and rows NULL-extended at b (and so at c)
SELECT count(*) FILTER (WHERE z IS NOT NULL) > 0 AS both, count(*) FILTER (WHERE w IS NULL) > 0 AS b_null FROM ml_chain;
TRUNCATE lc;
SELECT count(*) AS diffs FROM unnest(ARRAY['ml_chain', 'ml_star', 'ml_mixed', 'ml_three', 'ml_agg', 'ml_agg_star']::regclass[]) v,
  LATERAL parallel_material.view_check(v);

SELECT parallel_material.drop_view(v) IS NOT NULL AS dropped
  FROM unnest(ARRAY['ml_chain', 'ml_star', 'ml_mixed', 'ml_three', 'ml_agg', 'ml_agg_star']::regclass[]) v;

-- refused (0A000, naming the construct)
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parallel_material.create_view('ml_bad', q);
    RETURN 'created';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the second join's key not in the output
SELECT pg_temp.err('SELECT la.k, lb.w AS w2, lc.z FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = la.j');
-- a nullable side that is a join, FULL JOIN among LEFT JOINs, five outer joins
SELECT pg_temp.err('SELECT la.k, lb.w FROM la LEFT JOIN (lb LEFT JOIN lc ON lc.w = lb.w) ON lb.k = la.k');
SELECT pg_temp.err('SELECT la.k, lb.w FROM la LEFT JOIN lb ON lb.k = la.k FULL JOIN lc ON lc.w = la.j');
SELECT pg_temp.err('SELECT la.k, la.j, la.v FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = la.j LEFT JOIN lx ON lx.v = la.v LEFT JOIN lb b2 ON b2.k = la.j LEFT JOIN lc c2 ON c2.w = la.v');
-- grouped by a column of the second nullable side
SELECT pg_temp.err('SELECT lc.z, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lc ON lc.w = lb.w GROUP BY lc.z');
\set VERBOSITY default
DROP TABLE la, lb, lc, lx, diff_log, diff_counts;
DROP PROCEDURE run(int), random_write(), check_all(int, bool);
