SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_compact: a version every snapshot sees as inserted is stored compact, without its
-- xmin and cmin (8 bytes less, docs/arrangements.md "Layout"): by the build for rows committed
-- before it, by the reclaim pass (the background worker) for rows added later. Reads stay exact,
-- deletes and updates of compact versions included.
CREATE TABLE cmp (id int, v bigint, w bigint);
INSERT INTO cmp SELECT g, g, g FROM generate_series(1, 1000) g;
SELECT parallel_material.create_arrangement('cmp', '{id}');
-- 32-byte header + 20 bytes of tuple data (int, bigint, bigint: the MinimalTuple stored bare,
-- without its 16-byte header, and without the key column id, whose 4 bytes the key holds, see
-- "Compact arrangements") + 5-byte key = 57, in 16-byte granules: 64 bytes
SELECT live_versions, bytes, bytes / live_versions AS bytes_per_version
  FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass;
BEGIN;
INSERT INTO cmp SELECT g, g, g FROM generate_series(1001, 2000) g;
-- while their inserter runs, the new versions carry xmin and cmin: 40 + 20 + 5 -> 80 bytes
SELECT live_versions, bytes FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass;
COMMIT;
-- once every snapshot sees them, a reclaim pass (the worker's, or arrangement_reclaim's here, so
-- the test does not wait for the worker's interval) compacts them; another session's old
-- snapshot (autovacuum's ANALYZE on a loaded machine) can hold them back a while: wait at most
-- 300 s, leaving as soon as they are compact
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXIT WHEN (SELECT bytes = 128000
                     FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass);
        PERFORM parallel_material.arrangement_reclaim('cmp');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT live_versions, bytes FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass;
SELECT count(*) FROM parallel_material.arrangement_check('cmp');
-- deletes and updates of compact versions
DELETE FROM cmp WHERE id % 10 = 0;
UPDATE cmp SET v = -v WHERE id % 10 = 1;
SELECT count(*) FROM parallel_material.arrangement_check('cmp');
SELECT row_text FROM parallel_material.arrangement_probe('cmp', '{11}');
SELECT row_text FROM parallel_material.arrangement_probe('cmp', '{1010}');
SET parallel_material.enable_arrangement_join = on;
SELECT count(*), sum(c.v) FROM generate_series(1, 2000) g JOIN cmp c ON c.id = g;
RESET parallel_material.enable_arrangement_join;
SELECT count(*), sum(v) FROM cmp;
DROP TABLE cmp;
-- An arrangement of every column copies each heap tuple's bytes, except for rows that lack a
-- column added later (its default is filled in) or hold an external TOAST value (fetched).
CREATE TABLE wr (id int, t text);
ALTER TABLE wr ALTER t SET STORAGE EXTERNAL;
INSERT INTO wr SELECT g, repeat(md5(g::text), g % 3 * 100) FROM generate_series(1, 30) g;
ALTER TABLE wr ADD COLUMN d int DEFAULT 7;
INSERT INTO wr VALUES (100, 'new', 8), (101, repeat('x', 5000), NULL);
SELECT parallel_material.create_arrangement('wr', '{id}');
SELECT count(*) FROM parallel_material.arrangement_check('wr');
SELECT w.id, length(w.t), w.d, md5(p.row_text) = md5(w::text) AS same
  FROM wr w, parallel_material.arrangement_probe('wr', ARRAY[w.id::text]) p
 WHERE w.id IN (1, 2, 3, 100, 101) ORDER BY w.id;
DROP TABLE wr;
-- Bare tuples (no 16-byte MinimalTuple header) are stored only for rows without a NULL; the
-- others keep their header (null bitmap). Both forms, fixed and variable width, from the build,
-- the maintenance trigger and the reclaim pass's compaction, read back exactly (arrangement_check
-- compares every version with the heap; the join compares with the stock plan).
CREATE TABLE bare (id int, a bigint, t text, d date);
INSERT INTO bare SELECT g, CASE WHEN g % 4 <> 0 THEN g END, CASE WHEN g % 3 <> 0 THEN 'r' || g END,
       date '2020-01-01' + g FROM generate_series(1, 400) g;
SELECT parallel_material.create_arrangement('bare', '{id}');
SELECT parallel_material.create_arrangement('bare', '{a}', '{a, d}');
-- Two key columns, leading the arranged columns in the other order than the key's (id, a), with
-- alignment between them (int, then bigint at offset 8): the 16 leading bytes are left out of a
-- bare tuple and put back from the key, padding included. A text key column leaves nothing out.
SELECT parallel_material.create_arrangement('bare', '{a, id}', '{id, a}');
SELECT parallel_material.create_arrangement('bare', '{t}', '{id, t}');
-- {id}: a row without a NULL is stored bare and without its leading key column id (whose bytes
-- the key holds), 32 + 24 - 4 (int, bigint, text, date) + 5 -> 64 bytes; with a NULL it keeps its
-- 16-byte header and its key column (80 bytes, 64 when the NULL shortens the data enough).
-- {a}: (a, d) bare without a, 32 + 4 + 9 = 45 -> 48 bytes; where a is NULL, header kept,
-- 32 + 16 + 4 + 1 -> 64. {a,id}: bare, nothing but the key, 32 + 0 + 14 -> 48 bytes (64 with
-- the 16 data bytes); where a is NULL, 32 + 16 + 4 + 6 (a NULL key column is one byte) -> 64.
-- Rows of one key that the build stores together form runs (docs/arrangements.md, "Runs": one
-- 16-byte header and key per up to 64 versions, 16 bytes per version): here the NULL keys of {a}
-- (100 rows) and {t} (133 rows), so those two hold less than 400 single versions would.
SELECT key, live_versions, bytes FROM parallel_material.arrangements
 WHERE relation = 'bare'::regclass ORDER BY key;
INSERT INTO bare SELECT g, CASE WHEN g % 4 <> 0 THEN g END, CASE WHEN g % 3 <> 0 THEN 'r' || g END,
       date '2020-01-01' + g FROM generate_series(401, 500) g;
UPDATE bare SET t = NULL WHERE id % 7 = 0;
UPDATE bare SET t = 'u' || id WHERE id % 9 = 0;
DELETE FROM bare WHERE id % 11 = 0;
SELECT count(*) FROM parallel_material.arrangement_check('bare', '{id}');
SELECT count(*) FROM parallel_material.arrangement_check('bare', '{a}');
SELECT count(*) FROM parallel_material.arrangement_check('bare', '{a,id}');
SELECT count(*) FROM parallel_material.arrangement_check('bare', '{t}');
SELECT w.id, md5(p.row_text) = md5(row(w.id, w.a)::text) AS same
  FROM bare w, parallel_material.arrangement_probe('bare', ARRAY[w.a::text, w.id::text], '{a,id}') p
 WHERE w.id IN (1, 3, 5, 9, 450, 497) ORDER BY w.id;
SELECT w.id, md5(p.row_text) = md5(w::text) AS same
  FROM bare w, parallel_material.arrangement_probe('bare', ARRAY[w.id::text], '{id}') p
 WHERE w.id IN (1, 3, 4, 7, 9, 12, 450, 497) ORDER BY w.id;
SET parallel_material.enable_arrangement_join = on;
CREATE TEMP TABLE arr_res AS
  SELECT g, b.id, b.a, b.t, b.d FROM generate_series(1, 520) g JOIN bare b ON b.id = g;
CREATE TEMP TABLE arr_res2 AS
  SELECT g, b.a, b.d FROM generate_series(1, 520) g JOIN bare b ON b.a = g WHERE b.d > date '2020-03-01';
CREATE TEMP TABLE arr_res3 AS
  SELECT g, b.id, b.a FROM generate_series(1, 520) g JOIN bare b ON b.a = g AND b.id = g;
RESET parallel_material.enable_arrangement_join;
SET parallel_material.enable_arrangement_join = off;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM arr_res EXCEPT ALL
                              SELECT g, b.id, b.a, b.t, b.d FROM generate_series(1, 520) g
                                JOIN bare b ON b.id = g) x) AS differ
  FROM arr_res;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM arr_res2 EXCEPT ALL
                              SELECT g, b.a, b.d FROM generate_series(1, 520) g
                                JOIN bare b ON b.a = g WHERE b.d > date '2020-03-01') x) AS differ
  FROM arr_res2;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM arr_res3 EXCEPT ALL
                              SELECT g, b.id, b.a FROM generate_series(1, 520) g
                                JOIN bare b ON b.a = g AND b.id = g) x) AS differ
  FROM arr_res3;
RESET parallel_material.enable_arrangement_join;
DROP TABLE bare;
