SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_hot_paths: what the per-row and per-probe caches must never change.
-- (1) The maintenance trigger keeps each arrangement's shape (its projected tuple descriptor)
--     across rows and statements of a session: after ALTER TABLE in the same session (a column
--     added, one dropped, an arranged one widened without a rewrite, an ALTER rolled back) and
--     with more arrangements than the cache holds, the arrangement still equals the heap.
-- (2) ArrangementJoin remembers the last visibility answer per xmin for versions no one deleted:
--     never for the transaction's own rows (their visibility depends on the command id), never
--     for deleted versions. A cursor opened before this transaction's later inserts must not see
--     them, while it sees the earlier ones; deleted rows stay invisible among live ones.

-- (1) the shape cache
CREATE TABLE hp (id int, k int, v varchar(10), w text);
INSERT INTO hp SELECT g, g % 7, 'v' || g, 'w' || g FROM generate_series(1, 200) g;
SELECT parallel_material.create_arrangement('hp', '{k}');
CREATE FUNCTION pg_temp.diffs(rel regclass) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT count(*) FROM parallel_material.arrangement_check(rel)
$$;
INSERT INTO hp SELECT g, g % 7, 'v' || g, 'w' || g FROM generate_series(201, 220) g;
SELECT pg_temp.diffs('hp');
-- a column no arrangement holds, added (the relation's descriptor changes, no rewrite)
ALTER TABLE hp ADD COLUMN extra int DEFAULT 5;
INSERT INTO hp (id, k, v, w) SELECT g, g % 7, 'v' || g, 'w' || g FROM generate_series(221, 240) g;
UPDATE hp SET w = 'u' || id WHERE id % 10 = 0;
SELECT pg_temp.diffs('hp');
-- and dropped again
ALTER TABLE hp DROP COLUMN extra;
INSERT INTO hp SELECT g, g % 7, 'v' || g, 'w' || g FROM generate_series(241, 260) g;
DELETE FROM hp WHERE id % 13 = 0;
SELECT pg_temp.diffs('hp');
-- an arranged column widened without a rewrite: invalidated, rebuilt by its next reader
ALTER TABLE hp ALTER COLUMN v TYPE varchar(30);
SELECT pg_temp.diffs('hp');
INSERT INTO hp SELECT g, g % 7, 'a longer value ' || g, 'w' || g FROM generate_series(261, 280) g;
SELECT pg_temp.diffs('hp');
-- an ALTER rolled back, then more writes
BEGIN;
ALTER TABLE hp ADD COLUMN gone int;
INSERT INTO hp (id, k, v, w, gone) VALUES (900, 1, 'in', 'rolled back', 1);
ROLLBACK;
INSERT INTO hp SELECT g, g % 7, 'v' || g, 'w' || g FROM generate_series(281, 300) g;
SELECT pg_temp.diffs('hp');
-- more arrangements than the cache holds (8), written in turns
DO $$
BEGIN
    FOR i IN 1..10 LOOP
        EXECUTE format('CREATE TABLE hp_%s (id int, k int, t text)', i);
        EXECUTE format('INSERT INTO hp_%s SELECT g, g %% 5, repeat(%L, g %% 3) FROM generate_series(1, 30) g', i, i::text);
        PERFORM parallel_material.create_arrangement(format('hp_%s', i)::regclass, '{k}');
    END LOOP;
    FOR round IN 1..3 LOOP
        FOR i IN 1..10 LOOP
            EXECUTE format('INSERT INTO hp_%s VALUES (%s, %s, %L)', i, 100 + round, round, 'r' || round);
            EXECUTE format('UPDATE hp_%s SET t = t || %L WHERE id = %s', i, 'x', round);
        END LOOP;
    END LOOP;
END
$$;
SELECT i, pg_temp.diffs(format('hp_%s', i)::regclass) FROM generate_series(1, 10) i;

-- (2) the visibility memo of ArrangementJoin
CREATE TABLE hv_outer (k int);
INSERT INTO hv_outer VALUES (1), (2);
CREATE TABLE hv (id int, k int, note text);
INSERT INTO hv SELECT g, 1 + g % 2, 'loaded' FROM generate_series(1, 40) g;
ANALYZE hv_outer, hv;
SELECT parallel_material.create_arrangement('hv', '{k}');
DELETE FROM hv WHERE id % 4 = 0;  -- deleted versions among live ones with the same xmin
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT hv.id FROM hv_outer o JOIN hv ON hv.k = o.k;
SELECT count(*), sum(hv.id) FROM hv_outer o JOIN hv ON hv.k = o.k;
BEGIN;
INSERT INTO hv SELECT g, 1 + g % 2, 'mine, before' FROM generate_series(101, 110) g;
DECLARE c CURSOR FOR SELECT note, count(*), min(hv.id), max(hv.id)
                      FROM hv_outer o JOIN hv ON hv.k = o.k GROUP BY note ORDER BY note;
INSERT INTO hv SELECT g, 1 + g % 2, 'mine, after' FROM generate_series(201, 210) g;
DELETE FROM hv WHERE id IN (101, 102, 1, 2);  -- after the cursor's snapshot: still seen by it
-- the cursor (run now, under the snapshot of its DECLARE): the loaded rows not deleted before it
-- and this transaction's rows inserted before it (101..110); none inserted after it (201..210)
FETCH ALL FROM c;
COMMIT;
-- a new statement sees the transaction's final state
SELECT note, count(*), min(hv.id), max(hv.id) FROM hv_outer o JOIN hv ON hv.k = o.k GROUP BY note ORDER BY note;
SET parallel_material.enable_arrangement_join = off;
SELECT note, count(*), min(hv.id), max(hv.id) FROM hv_outer o JOIN hv ON hv.k = o.k GROUP BY note ORDER BY note;
RESET parallel_material.enable_arrangement_join;

-- (3) probe keys: a plain outer column is read from the outer row as copied (here not the first
-- column, and NULL in one row: no match), an expression is evaluated; both as stock
CREATE TABLE hk_outer (a text, k int, b int);
INSERT INTO hk_outer VALUES ('one', 1, 10), ('two', 2, 20), ('none', NULL, 30), ('three', 3, 40);
ANALYZE hk_outer;
EXPLAIN (COSTS OFF) SELECT o.a, hv.id FROM hk_outer o JOIN hv ON hv.k = o.k;
EXPLAIN (COSTS OFF) SELECT o.a, hv.id FROM hk_outer o JOIN hv ON hv.k = o.b / 10;
SELECT o.a, count(*), sum(hv.id) FROM hk_outer o JOIN hv ON hv.k = o.k GROUP BY o.a ORDER BY o.a;
SELECT o.a, count(*), sum(hv.id) FROM hk_outer o JOIN hv ON hv.k = o.b / 10 GROUP BY o.a ORDER BY o.a;
SET parallel_material.enable_arrangement_join = off;
SELECT o.a, count(*), sum(hv.id) FROM hk_outer o JOIN hv ON hv.k = o.k GROUP BY o.a ORDER BY o.a;
SELECT o.a, count(*), sum(hv.id) FROM hk_outer o JOIN hv ON hv.k = o.b / 10 GROUP BY o.a ORDER BY o.a;
RESET parallel_material.enable_arrangement_join;
RESET enable_hashjoin;
RESET enable_mergejoin;
-- every arrangement goes with its table (later tests count the definitions left)
DROP TABLE hp, hp_1, hp_2, hp_3, hp_4, hp_5, hp_6, hp_7, hp_8, hp_9, hp_10, hv, hv_outer, hk_outer;
SELECT count(*) AS defs_left FROM parallel_material.arrangement_defs
 WHERE relid::regclass::text LIKE 'h%';
