SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_parallel_build: a build with parallel workers (docs/arrangements.md, "Parallel
-- build") stores exactly what a serial build stores. The table is built serially
-- (max_parallel_maintenance_workers = 0) and in parallel (forced on a small table by
-- min_parallel_table_scan_size = 0 and the maintenance_work_mem every participant needs, or by
-- the table's parallel_workers reloption), and each build is checked with arrangement_check
-- (empty: the arrangement equals the heap) and the same counts. Rebuilds follow a heap rewrite
-- (VACUUM FULL); the DEBUG1 line of each build tells how many workers built it. A SELECT-only
-- role's read first marks the rewritten arrangement invalid (it may not rebuild it), so that the
-- rebuild's DEBUG1 output holds only that line.
CREATE ROLE pb_reader;
CREATE FUNCTION pb_invalidate() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL ROLE pb_reader;
  PERFORM count(*) FROM parallel_material.arrangement_rows('pb');
EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL;
END $$;
CREATE TABLE pb (id int, k int, v text, w numeric);
GRANT SELECT ON pb TO pb_reader;
INSERT INTO pb SELECT g, g % 97, repeat('x', g % 50), g / 7.0 FROM generate_series(1, 20000) g;
ANALYZE pb;
CREATE FUNCTION pb_counts(OUT versions bigint, OUT live bigint, OUT joined bigint, OUT check_rows bigint)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT live_versions + dead_versions, live_versions INTO versions, live
    FROM parallel_material.arrangements WHERE relation = 'pb'::regclass;
  SELECT count(*) INTO joined FROM parallel_material.arrangement_rows('pb');
  SELECT count(*) INTO check_rows FROM parallel_material.arrangement_check('pb');
END $$;
SET min_parallel_table_scan_size = 0;
SET maintenance_work_mem = '128MB';
SET max_parallel_maintenance_workers = 0;
SELECT parallel_material.create_arrangement('pb', '{k}');
SELECT * FROM pb_counts();
-- a rewrite, then dead and updated versions: the rebuild keeps them as the heap does
VACUUM FULL pb;
DELETE FROM pb WHERE id % 13 = 0;
UPDATE pb SET w = -w WHERE id % 11 = 0;
SELECT state FROM parallel_material.arrangements WHERE relation = 'pb'::regclass;
-- serial rebuild
SELECT pb_invalidate();
SET client_min_messages = debug1;
SELECT count(*) FROM parallel_material.arrangement_rows('pb');
RESET client_min_messages;
SELECT * FROM pb_counts();
-- parallel rebuild: the same versions, an empty check
VACUUM FULL pb;
SET max_parallel_maintenance_workers = 2;
SELECT pb_invalidate();
SET client_min_messages = debug1;
SELECT count(*) FROM parallel_material.arrangement_rows('pb');
RESET client_min_messages;
SELECT * FROM pb_counts();
SELECT count(*), sum(a.w) FROM generate_series(0, 96) g JOIN pb a ON a.k = g;
SET parallel_material.enable_arrangement_join = on;
SELECT count(*), sum(a.w) FROM generate_series(0, 96) g JOIN pb a ON a.k = g;
RESET parallel_material.enable_arrangement_join;
-- at the default maintenance_work_mem (64MB) a participant would get less than 32MB: one worker
-- at most, as CREATE INDEX plans it
VACUUM FULL pb;
RESET maintenance_work_mem;
SELECT pb_invalidate();
SET client_min_messages = debug1;
SELECT count(*) FROM parallel_material.arrangement_rows('pb');
RESET client_min_messages;
SELECT * FROM pb_counts();
-- the table's parallel_workers reloption wins (as for CREATE INDEX), up to
-- max_parallel_maintenance_workers; in a transaction that wrote the table (its own rows and
-- combo command ids, which the workers read from the leader's transaction state)
ALTER TABLE pb SET (parallel_workers = 4);
SELECT parallel_material.drop_arrangement('pb', '{k}');
BEGIN;
INSERT INTO pb SELECT g, g % 97, 'mine', 1 FROM generate_series(20001, 21000) g;
UPDATE pb SET v = 'upd' WHERE id % 17 = 0;
SELECT parallel_material.create_arrangement('pb', '{k}');
SELECT * FROM pb_counts();
DELETE FROM pb WHERE id % 19 = 0;
SELECT * FROM pb_counts();
COMMIT;
SELECT * FROM pb_counts();
VACUUM FULL pb;
SELECT pb_invalidate();
SET client_min_messages = debug1;
SELECT count(*) FROM parallel_material.arrangement_rows('pb');
RESET client_min_messages;
SELECT * FROM pb_counts();
-- max_parallel_maintenance_workers = 0: serial, whatever the reloption
VACUUM FULL pb;
SET max_parallel_maintenance_workers = 0;
SELECT pb_invalidate();
SET client_min_messages = debug1;
SELECT count(*) FROM parallel_material.arrangement_rows('pb');
RESET client_min_messages;
SELECT * FROM pb_counts();
-- a multi-column key, parallel
SELECT parallel_material.drop_arrangement('pb', '{k}');
ALTER TABLE pb RESET (parallel_workers);
SET max_parallel_maintenance_workers = 2;
SET maintenance_work_mem = '128MB';
SELECT parallel_material.create_arrangement('pb', '{k,id}');
SELECT * FROM pb_counts();
DROP TABLE pb;
DROP FUNCTION pb_counts();
DROP FUNCTION pb_invalidate();
DROP ROLE pb_reader;
RESET max_parallel_maintenance_workers;
RESET maintenance_work_mem;
RESET min_parallel_table_scan_size;
