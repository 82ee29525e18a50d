-- views_empty_parts: statements whose transition tables are partly or wholly empty (an UPDATE or
-- DELETE matching nothing, INSERT ... ON CONFLICT meeting only conflicts or only updating, MERGE
-- with one kind of action, a writable CTE with an empty part). Maintenance leaves empty parts out
-- of the delta query and skips a statement that changed no row (docs/views.md, "Cost"); every
-- part with rows must still be applied: view_check of a join, an aggregate, a LEFT JOIN and a
-- self-join view after every statement, inside the transaction too. Expected: no difference.
SET client_min_messages = warning;
CREATE TABLE ea (k int PRIMARY KEY, v int);
CREATE TABLE eb (k int, w int);
INSERT INTO ea SELECT g, g * 10 FROM generate_series(1, 6) g;
INSERT INTO eb SELECT g % 5, g FROM generate_series(1, 8) g;
SELECT parallel_material.create_view('ev_join',
  'SELECT ea.k, ea.v, eb.w FROM ea JOIN eb ON ea.k = eb.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('ev_agg',
  'SELECT eb.k, count(*) AS n, sum(eb.w) AS s, min(ea.v) AS m FROM ea JOIN eb ON ea.k = eb.k GROUP BY eb.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('ev_left',
  'SELECT ea.k, ea.v, eb.w FROM ea LEFT JOIN eb ON eb.k = ea.k') IS NOT NULL AS created;
SELECT parallel_material.create_view('ev_self',
  'SELECT b1.k, b1.w AS w1, b2.w AS w2 FROM eb b1 JOIN eb b2 ON b1.k = b2.w') IS NOT NULL AS created;

CREATE TABLE ediff (step text, view text, diff text);
CREATE PROCEDURE echeck(step text) LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['ev_join', 'ev_agg', 'ev_left', 'ev_self'] LOOP
        INSERT INTO ediff SELECT step, v, side || ' ' || copies || 'x ' || row_text
          FROM parallel_material.view_check(v::regclass);
    END LOOP;
END $$;
CALL echeck('start');

-- A statement that changes nothing is still counted as maintained (deltas_applied).
CREATE TABLE ecount AS SELECT deltas_applied AS before FROM parallel_material.views WHERE name::text = 'ev_join';
UPDATE ea SET v = v + 1 WHERE k = -1;
CALL echeck('update nothing');
SELECT v.deltas_applied - c.before AS counted FROM parallel_material.views v, ecount c WHERE v.name::text = 'ev_join';
DELETE FROM eb WHERE k = -1;
CALL echeck('delete nothing');
INSERT INTO ea VALUES (1, 1000) ON CONFLICT (k) DO NOTHING;
CALL echeck('on conflict: only conflicts');

-- One part empty, another with one row.
INSERT INTO ea VALUES (2, 2000) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
CALL echeck('on conflict: update only');
INSERT INTO ea VALUES (7, 70) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
CALL echeck('on conflict: insert only');
WITH u AS (UPDATE ea SET v = 0 WHERE k = -5 RETURNING 1) INSERT INTO eb VALUES (1, 3);
CALL echeck('cte: empty update, one insert');
WITH d AS (DELETE FROM eb WHERE k = 3 AND w = 3 RETURNING 1) UPDATE ea SET v = v WHERE k = -9;
CALL echeck('cte: one delete, empty update');
MERGE INTO eb USING (VALUES (2, 5)) s(k, w) ON false
  WHEN MATCHED THEN UPDATE SET w = s.w WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.w);
CALL echeck('merge: insert only');
MERGE INTO ea USING (VALUES (4, 44)) s(k, v) ON ea.k = s.k
  WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v);
CALL echeck('merge: update only');
MERGE INTO ea USING (VALUES (3)) s(k) ON ea.k = s.k WHEN MATCHED THEN DELETE;
CALL echeck('merge: delete only');
UPDATE eb SET w = 4 WHERE k = 1 AND w = 1;  -- a key of the self-join moves
CALL echeck('update one');

-- Inside a transaction, empty statements between real ones, a savepoint rolled back.
BEGIN;
UPDATE ea SET v = -1 WHERE k = -1;
INSERT INTO eb VALUES (4, 2);
CALL echeck('xact: insert');
DELETE FROM ea WHERE k = -2;
SAVEPOINT s1;
DELETE FROM eb WHERE k = 4 AND w = 2;
UPDATE ea SET v = v WHERE false;
CALL echeck('xact: delete in savepoint');
ROLLBACK TO s1;
CALL echeck('xact: after rollback to savepoint');
UPDATE ea SET v = 5 WHERE k = 5;
COMMIT;
CALL echeck('after commit');

SELECT count(*) AS join_rows FROM ev_join;
SELECT count(*) AS agg_rows FROM ev_agg;
SELECT count(*) AS left_rows FROM ev_left;
SELECT count(*) AS self_rows FROM ev_self;
SELECT step, view, diff FROM ediff ORDER BY 1, 2, 3;
SELECT parallel_material.drop_view(v::regclass) IS NOT NULL AS dropped
  FROM unnest(ARRAY['ev_join', 'ev_agg', 'ev_left', 'ev_self']) v;
DROP TABLE ea, eb, ediff, ecount;
DROP PROCEDURE echeck;
