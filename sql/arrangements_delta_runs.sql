SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_delta_runs: versions added by single-row INSERTs (deltas, stored one version
-- each) are grouped into runs by the reclaim pass once every snapshot sees them (issue 15,
-- docs/arrangements.md "Runs"): a key's versions share one header and one key, whether they are
-- adjacent in their chain or not (keys inserted interleaved: the second table). Reads stay exact
-- (arrangement_check compares every version with the heap), deletes and updates by TID find
-- versions inside such runs.
CREATE TABLE dr (k int, a int, b int, c int);
SELECT parallel_material.create_arrangement('dr', '{k}');
-- 2,000 rows, 4 per key, one INSERT each (the rows of one key one after the other)
DO $$
BEGIN
    FOR g IN 0..1999 LOOP
        INSERT INTO dr VALUES (g / 4, g, -g, g % 7);
    END LOOP;
END $$;
-- one version each: 40-byte header (xmin, cmin) + 12 bytes of tuple + 5-byte key -> 64 bytes
SELECT live_versions, bytes, bytes / live_versions AS bytes_per_version
  FROM parallel_material.arrangements WHERE relation = 'dr'::regclass;
-- a reclaim pass (arrangement_reclaim's here, not the worker's) freezes them and groups each
-- key's 4 versions into a run: 16 + 4 * 16 + 5 + 4 * 12 = 133 -> 144 bytes, 36 per version;
-- another session's old snapshot can hold them back a while: wait at most 300 s
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXIT WHEN (SELECT bytes = 500 * 144
                     FROM parallel_material.arrangements WHERE relation = 'dr'::regclass);
        PERFORM parallel_material.arrangement_reclaim('dr');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT live_versions, bytes, bytes / live_versions AS bytes_per_version
  FROM parallel_material.arrangements WHERE relation = 'dr'::regclass;
SELECT count(*) FROM parallel_material.arrangement_check('dr');
SELECT row_text FROM parallel_material.arrangement_probe('dr', '{7}') ORDER BY row_text;
-- deletes and updates of versions inside those runs (by TID)
DELETE FROM dr WHERE a % 10 = 0;
UPDATE dr SET b = 0 WHERE a % 10 = 1;
SELECT count(*) FROM parallel_material.arrangement_check('dr');
SELECT row_text FROM parallel_material.arrangement_probe('dr', '{2}') ORDER BY row_text;
SET parallel_material.enable_arrangement_join = on;
SELECT count(*), sum(d.a), sum(d.b) FROM generate_series(0, 499) g JOIN dr d ON d.k = g;
RESET parallel_material.enable_arrangement_join;
SELECT count(*), sum(a), sum(b) FROM dr;
DROP TABLE dr;
-- Keys inserted interleaved: 2,000 keys, 4 rows each, round-robin (key 0, 1, ..., 1999, then
-- again): about 2 keys per chain (1,024 buckets), so no two versions of a key are adjacent in
-- their chain; reclaim still groups each key's 4 versions into one run of 144 bytes
CREATE TABLE dr2 (k int, a int, b int, c int);
SELECT parallel_material.create_arrangement('dr2', '{k}');
DO $$
BEGIN
    FOR g IN 0..7999 LOOP
        INSERT INTO dr2 VALUES (g % 2000, g, -g, g % 7);
    END LOOP;
END $$;
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXIT WHEN (SELECT bytes = 2000 * 144
                     FROM parallel_material.arrangements WHERE relation = 'dr2'::regclass);
        PERFORM parallel_material.arrangement_reclaim('dr2');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT live_versions, bytes, bytes / live_versions AS bytes_per_version
  FROM parallel_material.arrangements WHERE relation = 'dr2'::regclass;
SELECT count(*) FROM parallel_material.arrangement_check('dr2');
SELECT row_text FROM parallel_material.arrangement_probe('dr2', '{7}') ORDER BY row_text;
DELETE FROM dr2 WHERE a % 10 = 0;
UPDATE dr2 SET b = 0 WHERE a % 10 = 1;
SELECT count(*) FROM parallel_material.arrangement_check('dr2');
SELECT row_text FROM parallel_material.arrangement_probe('dr2', '{1}') ORDER BY row_text;
SET parallel_material.enable_arrangement_join = on;
SELECT count(*), sum(d.a), sum(d.b) FROM generate_series(0, 1999) g JOIN dr2 d ON d.k = g;
RESET parallel_material.enable_arrangement_join;
SELECT count(*), sum(a), sum(b) FROM dr2;
DROP TABLE dr2;
