-- views_left_agg: GROUP BY, aggregates without GROUP BY and DISTINCT over one LEFT JOIN
-- (docs/views.md, "LEFT JOIN views", "Aggregates over a LEFT JOIN"): every group a write can
-- change is recomputed. Random sequences of writes (fixed seed) to every input — NULL keys,
-- preserved rows moving between groups, the last match of a preserved row deleted (it becomes
-- NULL-extended) and its first match inserted (replacing the NULL-extended row), statements
-- writing both sides — with view_check of every view after every statement, inside the writing
-- transaction, and after each commit. Expected: no failure. Then the refusals.
SET client_min_messages = warning;
CREATE TABLE la (k int, v int, tag text);
CREATE TABLE lb (k int, w int);
CREATE TABLE lx (v int, y int);
SELECT setseed(0.6161);
INSERT INTO la SELECT (random() * 10)::int, (random() * 5)::int, 't' || (random() * 2)::int FROM generate_series(1, 25);
INSERT INTO lb SELECT (random() * 14)::int, (random() * 6)::int FROM generate_series(1, 20);
INSERT INTO lx SELECT (random() * 5)::int, (random() * 9)::int FROM generate_series(1, 8);

-- per preserved key: counts, sums, extremes of the nullable side (NULL when unmatched)
SELECT parallel_material.create_view('ag_key',
  'SELECT la.k, count(*) AS n, count(lb.w) AS nw, sum(lb.w) AS sw, min(lb.w) AS mn, max(lb.w) AS mx
     FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY la.k') IS NOT NULL AS created;
-- grouped by a column that is not the key (the key not in the output; keys move between groups)
SELECT parallel_material.create_view('ag_tag',
  'SELECT la.tag, count(lb.w) AS nw, avg(lb.w) AS aw FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY la.tag') IS NOT NULL AS created;
-- a WHERE on the nullable side (null-rejecting or IS NULL)
SELECT parallel_material.create_view('ag_where',
  'SELECT la.v, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k WHERE lb.w IS NULL OR lb.w > 2 GROUP BY la.v') IS NOT NULL AS created;
-- three tables, a filter in ON
SELECT parallel_material.create_view('ag_three',
  'SELECT lx.y, count(lb.w) AS n, sum(la.v) AS s FROM lx JOIN la ON la.v = lx.v LEFT JOIN lb ON lb.k = la.k AND lb.w % 2 = 0 GROUP BY lx.y') IS NOT NULL AS created;
-- DISTINCT over preserved columns
SELECT parallel_material.create_view('ag_dist',
  'SELECT DISTINCT la.tag, la.v FROM la LEFT JOIN lb ON lb.k = la.k WHERE lb.w IS DISTINCT FROM 3') IS NOT NULL AS created;
-- one row (no GROUP BY)
SELECT parallel_material.create_view('ag_one',
  'SELECT count(*) AS n, count(lb.w) AS nw, max(lb.w) AS mx FROM la LEFT JOIN lb ON lb.k = la.k') IS NOT NULL AS created;
-- HAVING: the preserved keys without a match (an anti join)
SELECT parallel_material.create_view('ag_having',
  'SELECT la.k, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY la.k HAVING count(lb.w) = 0') IS NOT NULL AS created;
-- RIGHT JOIN, read the other way round
SELECT parallel_material.create_view('ag_right',
  'SELECT la.tag, count(lb.k) AS n FROM lb RIGHT JOIN la ON la.k = lb.k GROUP BY la.tag') IS NOT NULL AS created;

SELECT name, rows FROM parallel_material.views ORDER BY name;

CREATE TABLE diff_log (step int, in_xact bool, view text, diff text);
CREATE TABLE diff_counts (checks int);
INSERT INTO diff_counts VALUES (0);

CREATE PROCEDURE check_all(step int, in_xact bool) LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['ag_key', 'ag_tag', 'ag_where', 'ag_three', 'ag_dist', 'ag_one', 'ag_having', 'ag_right'] LOOP
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
    op int := pg_temp.rnd(14);
    x int;
BEGIN
    CASE op
    WHEN 0 THEN INSERT INTO la SELECT pg_temp.rnull(14), pg_temp.rnull(5), 't' || pg_temp.rnd(2) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 1 THEN INSERT INTO lb SELECT pg_temp.rnull(14), pg_temp.rnull(6) FROM generate_series(1, 1 + pg_temp.rnd(2));
    WHEN 2 THEN  -- the first match of a preserved row that has none
        SELECT la.k INTO x FROM la WHERE la.k IS NOT NULL AND NOT EXISTS (SELECT FROM lb WHERE lb.k = la.k) ORDER BY random() LIMIT 1;
        INSERT INTO lb VALUES (x, pg_temp.rnd(6));
    WHEN 3 THEN  -- the last matches of a key
        DELETE FROM lb WHERE k = pg_temp.rnd(14);
    WHEN 4 THEN DELETE FROM lb WHERE ctid IN (SELECT ctid FROM lb WHERE k = pg_temp.rnd(14) LIMIT 1);
    WHEN 5 THEN UPDATE lb SET k = pg_temp.rnull(14) WHERE k = pg_temp.rnd(14);
    WHEN 6 THEN UPDATE lb SET w = pg_temp.rnull(6) WHERE k = pg_temp.rnd(14);
    WHEN 7 THEN UPDATE la SET k = pg_temp.rnull(14) WHERE v = pg_temp.rnd(5);
    WHEN 8 THEN DELETE FROM la WHERE k = pg_temp.rnd(14) AND v % 2 = pg_temp.rnd(1);
    WHEN 9 THEN  -- duplicates on both sides
        SELECT k INTO x FROM la ORDER BY random() LIMIT 1;
        INSERT INTO la SELECT * FROM la WHERE k = x LIMIT 1;
        INSERT INTO lb SELECT * FROM lb WHERE k = x LIMIT 1;
    WHEN 10 THEN  -- one statement writing both sides
        WITH moved AS (DELETE FROM lb WHERE k = pg_temp.rnd(14) RETURNING k, w)
        INSERT INTO la SELECT k, w % 5, 'm' FROM moved;
    WHEN 11 THEN
        WITH u AS (UPDATE la SET k = k + 1 WHERE k = pg_temp.rnd(14) RETURNING k)
        UPDATE lb SET k = k + 1 WHERE k IN (SELECT k FROM u);
    WHEN 12 THEN UPDATE lx SET v = pg_temp.rnd(5) WHERE y = pg_temp.rnd(9);
    WHEN 13 THEN  -- preserved rows moving between groups
        UPDATE la SET tag = 't' || pg_temp.rnd(2), v = pg_temp.rnull(5) WHERE k = pg_temp.rnd(14);
    ELSE
        INSERT INTO lx VALUES (pg_temp.rnull(5), pg_temp.rnd(9));
        DELETE FROM lx WHERE ctid IN (SELECT ctid FROM lx ORDER BY random() LIMIT 1);
    END CASE;
END $$;

\i sql/include/views_differential_run.psql
SELECT setseed(0.3141);
CALL run(120);

SELECT checks > 1500 AS enough_checks FROM diff_counts;
SELECT count(*) AS failures FROM diff_log;
SELECT * FROM diff_log ORDER BY step, view LIMIT 10;
-- the views did change along the way
SELECT name, deltas_applied > 30 AS maintained FROM parallel_material.views ORDER BY name;
SELECT count(*) FILTER (WHERE nw = 0) > 0 AS unmatched_keys, count(*) FILTER (WHERE nw > 0) > 0 AS matched_keys
  FROM ag_key;
-- refresh_view and TRUNCATE keep them exact
TRUNCATE lb;
SELECT count(*) AS diffs FROM unnest(ARRAY['ag_key', 'ag_tag', 'ag_where', 'ag_three', 'ag_dist', 'ag_one', 'ag_having', 'ag_right']::regclass[]) v,
  LATERAL parallel_material.view_check(v);
SELECT parallel_material.refresh_view('ag_tag') IS NOT NULL AS refreshed;
SELECT count(*) AS diffs FROM parallel_material.view_check('ag_tag');

SELECT parallel_material.drop_view(v)
  FROM unnest(ARRAY['ag_key', 'ag_tag', 'ag_where', 'ag_three', 'ag_dist', 'ag_one', 'ag_having', 'ag_right']::regclass[]) v;

-- refused (0A000, naming the construct): a group key or DISTINCT column of the nullable side
\set VERBOSITY terse
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parallel_material.create_view('ag_bad', q);
    RETURN 'created';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.err('SELECT lb.w, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY lb.w');
SELECT pg_temp.err('SELECT la.k, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY la.k, coalesce(lb.w, 0)');
SELECT pg_temp.err('SELECT DISTINCT la.k, lb.w FROM la LEFT JOIN lb ON lb.k = la.k');
SELECT pg_temp.err('SELECT la.k, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k LEFT JOIN lx ON lx.v = la.v GROUP BY la.k, lx.y');
SELECT pg_temp.err('SELECT la.k, count(*) AS n FROM la FULL JOIN lb ON lb.k = la.k GROUP BY la.k');
\set VERBOSITY default
SELECT parallel_material.create_view('ag_bad', 'SELECT lb.w, count(*) AS n FROM la LEFT JOIN lb ON lb.k = la.k GROUP BY lb.w');
DROP TABLE la, lb, lx, diff_log, diff_counts;
DROP PROCEDURE run(int), random_write(), check_all(int, bool);
