-- arrangements_compact: a version every snapshot sees as inserted is stored compact, without its
-- xmin and cmin (8 bytes less, docs/arrangements.md "Layout"): by the build for rows committed
-- before it, by the reclaim pass (the background worker) for rows added later. Reads stay exact,
-- deletes and updates of compact versions included.
CREATE TABLE cmp (id int, v bigint);
INSERT INTO cmp SELECT g, g FROM generate_series(1, 1000) g;
SELECT parallel_material.create_arrangement('cmp', '{id}');
-- 40-byte header + 32-byte tuple (a MinimalTuple of int and bigint) + 5-byte key: 80 bytes
SELECT live_versions, bytes, bytes / live_versions AS bytes_per_version
  FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass;
BEGIN;
INSERT INTO cmp SELECT g, g FROM generate_series(1001, 2000) g;
-- while their inserter runs, the new versions carry xmin and cmin: 48 + 32 + 5 -> 96 bytes
SELECT live_versions, bytes FROM parallel_material.arrangements WHERE relation = 'cmp'::regclass;
COMMIT;
-- once every snapshot sees them, a reclaim pass (the worker's, or arrangement_reclaim's here, so
-- the test does not wait for the worker's interval) compacts them; another session's old
-- snapshot (autovacuum's ANALYZE on a loaded machine) can hold them back a while: wait at most
-- 300 s, leaving as soon as they are compact
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXIT WHEN (SELECT bytes = 160000
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
