SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- views_heap_fetch: views_differential's random writes over key-only arrangements
-- (create_arrangement(..., '{}') before create_view): the delta joins probe them and fetch the
-- columns the views read from the heap by TID (docs/arrangements.md, "Heap fetch by TID"); stock
-- join methods are disabled so that every delta join that can goes through ArrangementJoin.
-- view_check of every view after every statement, inside the writing transaction, and after
-- each commit. Expected: no failure.
SET client_min_messages = warning;
CREATE TABLE da (k int, v int, tag text);
CREATE TABLE db (k int, w int, x text);
CREATE TABLE dc (x text, y int);
SELECT setseed(0.4242);
INSERT INTO da SELECT (random() * 8)::int, (random() * 8)::int, 't' || (random() * 3)::int FROM generate_series(1, 40);
INSERT INTO db SELECT (random() * 8)::int, (random() * 6)::int, 'x' || (random() * 4)::int FROM generate_series(1, 40);
INSERT INTO dc SELECT 'x' || (random() * 4)::int, (random() * 10)::int FROM generate_series(1, 15);

-- the arrangements the views need, key only
SELECT count(parallel_material.create_arrangement(r::regclass, ARRAY[k], '{}'))
  FROM (VALUES ('da', 'k'), ('da', 'v'), ('db', 'k'), ('db', 'x'), ('dc', 'x')) a(r, k);
SELECT relation, key, columns FROM parallel_material.arrangements ORDER BY 1::text, 2::text;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT parallel_material.create_view('dv_ab',
  'SELECT da.k, da.v + db.w AS s, db.x FROM da JOIN db ON da.k = db.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_abc',
  'SELECT da.tag, db.w, dc.y FROM da, db, dc WHERE da.k = db.k AND db.x = dc.x AND dc.y % 2 = 0') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_self',
  'SELECT a1.k, a2.v, a1.tag AS t1, a2.tag AS t2 FROM da a1 JOIN da a2 ON a1.k = a2.v') IS NOT NULL AS created;
SELECT parallel_material.create_view('dv_bc',
  'SELECT dc.y, db.k, db.x FROM db JOIN dc USING (x) WHERE db.w > 2') IS NOT NULL AS created;

CREATE TABLE diff_log (step int, in_xact bool, view text, diff text);
CREATE TABLE diff_counts (checks int);
INSERT INTO diff_counts VALUES (0);

-- checks every view, logging any difference (view_check's own comparison with the join methods
-- on: the session has them off for the delta joins)
CREATE PROCEDURE check_all(step int, in_xact bool) LANGUAGE plpgsql
  SET enable_hashjoin = on SET enable_mergejoin = on AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['dv_ab', 'dv_abc', 'dv_self', 'dv_bc'] LOOP
        INSERT INTO diff_log SELECT step, in_xact, v, side || ' ' || copies || 'x ' || row_text
          FROM parallel_material.view_check(v::regclass);
    END LOOP;
    UPDATE diff_counts SET checks = checks + 4;
END $$;

-- one random write statement
CREATE FUNCTION pg_temp.rnd(n int) RETURNS int LANGUAGE sql AS $$ SELECT (random() * n)::int $$;
CREATE FUNCTION pg_temp.rnull(n int) RETURNS int LANGUAGE sql AS
  $$ SELECT CASE WHEN random() < 0.05 THEN NULL ELSE (random() * n)::int END $$;
CREATE PROCEDURE random_write() LANGUAGE plpgsql AS $$
DECLARE
    op int := pg_temp.rnd(11);
BEGIN
    CASE op
    WHEN 0 THEN INSERT INTO da SELECT pg_temp.rnull(8), pg_temp.rnull(8), 't' || pg_temp.rnd(3) FROM generate_series(1, 1 + pg_temp.rnd(3));
    WHEN 1 THEN INSERT INTO db SELECT pg_temp.rnull(8), pg_temp.rnd(6), 'x' || pg_temp.rnd(4) FROM generate_series(1, 1 + pg_temp.rnd(3));
    WHEN 2 THEN INSERT INTO dc VALUES ('x' || pg_temp.rnd(4), pg_temp.rnull(10));
    WHEN 3 THEN UPDATE da SET k = pg_temp.rnull(8) WHERE v = pg_temp.rnd(8);
    WHEN 4 THEN UPDATE da SET v = pg_temp.rnd(8), tag = 't' || pg_temp.rnd(3) WHERE k = pg_temp.rnd(8);
    WHEN 5 THEN UPDATE db SET x = 'x' || pg_temp.rnd(4), w = w + 1 WHERE k = pg_temp.rnd(8);
    WHEN 6 THEN UPDATE dc SET y = pg_temp.rnd(10) WHERE x = 'x' || pg_temp.rnd(4);
    WHEN 7 THEN DELETE FROM da WHERE k = pg_temp.rnd(8) AND v % 2 = pg_temp.rnd(1);
    WHEN 8 THEN DELETE FROM db WHERE ctid IN (SELECT ctid FROM db WHERE k = pg_temp.rnd(8) LIMIT 2);
    WHEN 9 THEN DELETE FROM dc WHERE y = pg_temp.rnd(10);
    WHEN 10 THEN
        WITH moved AS (DELETE FROM da WHERE k = pg_temp.rnd(8) RETURNING k, v)
        INSERT INTO db SELECT v, k, 'x' || pg_temp.rnd(4) FROM moved;
    ELSE
        WITH u AS (UPDATE db SET k = k + 1 WHERE k = pg_temp.rnd(8) RETURNING k)
        UPDATE da SET k = k + 1 WHERE k IN (SELECT k FROM u);
    END CASE;
END $$;

-- 200 transactions of 1 to 4 statements, one in four with a savepoint rolled back in the middle,
-- one in ten rolled back entirely; checks inside the transaction after each statement and after
-- each commit or rollback
\i sql/include/views_differential_run.psql
-- the delta joins fetch from the heap
SET client_min_messages = notice;
SET parallel_material.debug_view_explain = on;
INSERT INTO da VALUES (3, 4, 't1');
UPDATE db SET w = w + 1 WHERE k = 3;
RESET parallel_material.debug_view_explain;
SET client_min_messages = warning;
SELECT setseed(0.5678);
CALL run(120);

SELECT checks > 1000 AS enough_checks FROM diff_counts;
SELECT count(*) AS failures FROM diff_log;
SELECT * FROM diff_log ORDER BY step, view LIMIT 10;
-- the views did change along the way
SELECT name, deltas_applied > 30 AS maintained FROM parallel_material.views ORDER BY name;

SELECT parallel_material.drop_view(v) FROM unnest(ARRAY['dv_ab', 'dv_abc', 'dv_self', 'dv_bc']::regclass[]) v;
SELECT count(*) AS arrangements_left FROM parallel_material.arrangements;
DROP TABLE da, db, dc, diff_log, diff_counts;
DROP PROCEDURE run(int), random_write(), check_all(int, bool);
