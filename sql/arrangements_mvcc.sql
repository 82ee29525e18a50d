SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_mvcc: reading through an arrangement shows exactly what the heap shows the same
-- snapshot. arrangement_check() compares every visible row (TID and values) of the arrangement
-- with a heap scan under one snapshot and returns the differences: none expected anywhere below.
-- same(k) compares one probe with the matching heap rows.
CREATE TABLE mv (id int, k int, v text);
INSERT INTO mv SELECT g, g % 5, 'v' || g FROM generate_series(1, 40) g;
SELECT parallel_material.create_arrangement('mv', '{k}');
CREATE FUNCTION pg_temp.same(key int) RETURNS boolean LANGUAGE sql VOLATILE AS $$
    SELECT (SELECT array_agg(row_text ORDER BY row_text)
              FROM parallel_material.arrangement_probe('mv', ARRAY[key::text]))
           IS NOT DISTINCT FROM
           (SELECT array_agg(ROW(mv.*)::text ORDER BY ROW(mv.*)::text) FROM mv WHERE k = key)
$$;
CREATE FUNCTION pg_temp.diffs() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT count(*) FROM parallel_material.arrangement_check('mv')
$$;
SELECT pg_temp.diffs(), pg_temp.same(1), pg_temp.same(3);

-- autocommit writes: updates of other columns, of the key, deletes
UPDATE mv SET v = 'u' || id WHERE id <= 6;
UPDATE mv SET k = 1 WHERE id IN (2, 3);
DELETE FROM mv WHERE id > 35;
INSERT INTO mv VALUES (100, 1, 'hundred');
SELECT pg_temp.diffs(), pg_temp.same(1), pg_temp.same(2), pg_temp.same(4);
SELECT * FROM parallel_material.arrangement_probe('mv', '{1}') ORDER BY row_text;

-- an aborted transaction leaves no trace
BEGIN;
INSERT INTO mv VALUES (200, 2, 'aborted');
DELETE FROM mv WHERE k = 3;
UPDATE mv SET v = 'aborted' WHERE k = 4;
ROLLBACK;
SELECT pg_temp.diffs(), pg_temp.same(2), pg_temp.same(3), pg_temp.same(4);

-- the transaction's own commands, each seen by the next
BEGIN;
INSERT INTO mv VALUES (300, 3, 'own');
SELECT row_text FROM parallel_material.arrangement_probe('mv', '{3}') WHERE row_text LIKE '%own%';
UPDATE mv SET v = 'own2' WHERE id = 300;           -- updates a row of this transaction (combo cid)
SELECT row_text FROM parallel_material.arrangement_probe('mv', '{3}') WHERE row_text LIKE '%own%';
UPDATE mv SET k = 4 WHERE id = 300;
SELECT pg_temp.diffs(), pg_temp.same(3), pg_temp.same(4);
DELETE FROM mv WHERE id = 300;
SELECT pg_temp.diffs(), pg_temp.same(3), pg_temp.same(4);
DELETE FROM mv WHERE k = 0;
SELECT pg_temp.diffs(), pg_temp.same(0);
COMMIT;
SELECT pg_temp.diffs(), pg_temp.same(0), pg_temp.same(3), pg_temp.same(4);

-- within one statement: its own writes are invisible to it, as in the heap
WITH ins AS (INSERT INTO mv VALUES (400, 2, 'cte') RETURNING *)
SELECT (SELECT count(*) FROM parallel_material.arrangement_probe('mv', '{2}')) AS via_arrangement,
       (SELECT count(*) FROM mv WHERE k = 2) AS via_heap;
SELECT pg_temp.same(2);

-- a cursor keeps the command id of its snapshot: later commands' writes stay invisible to it
BEGIN;
DECLARE ca CURSOR FOR SELECT row_text FROM parallel_material.arrangement_probe('mv', '{2}') ORDER BY 1;
DECLARE ch CURSOR FOR SELECT ROW(mv.*)::text FROM mv WHERE k = 2 ORDER BY 1;
UPDATE mv SET v = 'later' WHERE k = 2;
INSERT INTO mv VALUES (401, 2, 'later');
FETCH ALL FROM ca;
FETCH ALL FROM ch;
SELECT pg_temp.diffs(), pg_temp.same(2);
COMMIT;

-- savepoints: rolled back subtransactions vanish, released ones stay
BEGIN;
SAVEPOINT a;
INSERT INTO mv VALUES (500, 1, 'sp-a');
DELETE FROM mv WHERE id = 1;
SELECT pg_temp.diffs(), pg_temp.same(1);
ROLLBACK TO a;
SELECT pg_temp.diffs(), pg_temp.same(1);
SAVEPOINT b;
INSERT INTO mv VALUES (501, 1, 'sp-b');
SAVEPOINT c;
UPDATE mv SET v = 'sp-c' WHERE id = 501;
DELETE FROM mv WHERE id = 6;
ROLLBACK TO c;
RELEASE b;
SELECT pg_temp.diffs(), pg_temp.same(1);
SAVEPOINT d;
DELETE FROM mv WHERE id = 501;      -- deleted by a subtransaction that then aborts
ROLLBACK TO d;
DELETE FROM mv WHERE id = 501;      -- and deleted again for good
SELECT pg_temp.diffs(), pg_temp.same(1);
COMMIT;
SELECT pg_temp.diffs(), pg_temp.same(1);
SELECT row_text FROM parallel_material.arrangement_probe('mv', '{1}') ORDER BY 1;

-- INSERT ... ON CONFLICT, MERGE and COPY are maintained too
CREATE UNIQUE INDEX mv_id ON mv (id);
INSERT INTO mv VALUES (7, 2, 'upsert'), (600, 2, 'new') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
MERGE INTO mv USING (VALUES (8, 'merged'), (601, 'merge-new'), (9, NULL)) s(id, v) ON mv.id = s.id
  WHEN MATCHED AND s.v IS NULL THEN DELETE
  WHEN MATCHED THEN UPDATE SET v = s.v
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 3, s.v);
COPY mv FROM stdin;
700	4	copied
701	\N	null key
\.
SELECT pg_temp.diffs(), pg_temp.same(2), pg_temp.same(3), pg_temp.same(4);
-- a NULL key is stored (scans see it) but never matches a probe
SELECT row_text FROM parallel_material.arrangement_rows('mv') WHERE row_text LIKE '%null key%';

-- TRUNCATE: rolled back, then committed
BEGIN;
TRUNCATE mv;
SELECT pg_temp.diffs(), pg_temp.same(2);
INSERT INTO mv VALUES (1, 2, 'after truncate');
SELECT pg_temp.diffs(), pg_temp.same(2);
ROLLBACK;
SELECT pg_temp.diffs(), pg_temp.same(2), pg_temp.same(3);

-- a heap rewrite moves every TID: the arrangement notices and rebuilds on its next use
VACUUM FULL mv;
SELECT pg_temp.diffs(), pg_temp.same(1), pg_temp.same(2);
SELECT state FROM parallel_material.arrangements WHERE relation = 'mv'::regclass;

-- reclaim unlinks versions dead to every snapshot; reads are unchanged
DELETE FROM mv WHERE k = 4;
SELECT parallel_material.arrangement_reclaim('mv') > 0 AS reclaimed;
SELECT dead_versions, last_reclaim IS NOT NULL AS reclaimed_once
  FROM parallel_material.arrangements WHERE relation = 'mv'::regclass;
SELECT pg_temp.diffs(), pg_temp.same(4), pg_temp.same(1);

-- TRUNCATE committed
TRUNCATE mv;
INSERT INTO mv VALUES (1, 1, 'fresh');
SELECT pg_temp.diffs(), pg_temp.same(1);

-- an arrangement built inside a transaction that already wrote the table (own command ids,
-- combo command ids), then maintained in the same transaction
CREATE TABLE mv2 (id int, k int);
BEGIN;
INSERT INTO mv2 SELECT g, g % 3 FROM generate_series(1, 30) g;
UPDATE mv2 SET k = 9 WHERE id <= 3;
DELETE FROM mv2 WHERE id > 27;
DECLARE c2 CURSOR FOR SELECT row_text FROM parallel_material.arrangement_rows('mv2') ORDER BY 1;
SELECT parallel_material.create_arrangement('mv2', '{k}');
SELECT count(*) FROM parallel_material.arrangement_check('mv2');
INSERT INTO mv2 VALUES (100, 9);
UPDATE mv2 SET k = 0 WHERE id = 1;
SELECT count(*) FROM parallel_material.arrangement_check('mv2');
SELECT row_text FROM parallel_material.arrangement_probe('mv2', '{9}') ORDER BY 1;
COMMIT;
SELECT count(*) FROM parallel_material.arrangement_check('mv2');

-- large (TOASTed) values are stored detoasted
CREATE TABLE mv3 (id int, k int, big text);
SELECT parallel_material.create_arrangement('mv3', '{k}');
INSERT INTO mv3 SELECT 1, 1, string_agg(md5(g::text), '') FROM generate_series(1, 4000) g;
SELECT count(*) FROM parallel_material.arrangement_check('mv3');
SELECT length(row_text) FROM parallel_material.arrangement_probe('mv3', '{1}');

-- multi-column keys of text and int, text arranged in a deterministic collation
CREATE TABLE mv4 (a text, b int, c int);
INSERT INTO mv4 SELECT 'x' || (g % 3), g % 2, g FROM generate_series(1, 12) g;
SELECT parallel_material.create_arrangement('mv4', '{a,b}', '{c}');
SELECT row_text FROM parallel_material.arrangement_probe('mv4', '{x1,0}') ORDER BY 1;
SELECT ROW(a, b, c)::text FROM mv4 WHERE a = 'x1' AND b = 0 ORDER BY 1;
SELECT count(*) FROM parallel_material.arrangement_check('mv4');

-- COPY FREEZE rows are visible to every snapshot, in the heap and through the arrangement
BEGIN;
CREATE TABLE mv5 (id int, k int);
SELECT parallel_material.create_arrangement('mv5', '{k}');
COPY mv5 FROM stdin WITH (FREEZE);
1	1
2	1
\.
SELECT count(*) FROM parallel_material.arrangement_check('mv5');
COMMIT;
SELECT count(*) FROM parallel_material.arrangement_check('mv5');

-- dropping an arranged column drops the arrangement holding it (more in arrangements_alter);
-- writes go on
ALTER TABLE mv4 DROP COLUMN c;
INSERT INTO mv4 VALUES ('x1', 0);
SELECT count(*) FROM parallel_material.arrangements WHERE relation = 'mv4'::regclass;

DROP TABLE mv, mv2, mv3, mv4, mv5;
SELECT count(*) AS defs_left FROM parallel_material.arrangement_defs;
