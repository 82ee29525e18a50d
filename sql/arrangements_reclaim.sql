SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_reclaim: the background worker reclaims versions dead to every snapshot (deleted,
-- updated away, inserted by an aborted transaction) within a few of its passes
-- (parallel_material.arrangement_reclaim_interval, 1s by default); reads stay exact.
SHOW parallel_material.arrangement_reclaim_interval;
CREATE TABLE rc (id int, k int);
INSERT INTO rc SELECT g, g % 4 FROM generate_series(1, 200) g;
SELECT parallel_material.create_arrangement('rc', '{k}');
-- The counts before any reclaim are read inside the writing transaction: its versions cannot be
-- reclaimed while it runs, so the figures do not depend on when the worker's next pass comes.
BEGIN;
DELETE FROM rc WHERE id <= 100;
UPDATE rc SET k = k + 1 WHERE id > 150;
SELECT live_versions, dead_versions FROM parallel_material.arrangements WHERE relation = 'rc'::regclass;
COMMIT;
BEGIN;
INSERT INTO rc VALUES (1000, 1);
ROLLBACK;
-- wait (at most 60 s) for the worker
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN (SELECT dead_versions = 0 AND live_versions = 100
                     FROM parallel_material.arrangements WHERE relation = 'rc'::regclass);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT live_versions, dead_versions, last_reclaim IS NOT NULL AS reclaimed
  FROM parallel_material.arrangements WHERE relation = 'rc'::regclass;
SELECT count(*) FROM parallel_material.arrangement_check('rc');
SELECT count(*) FROM parallel_material.arrangement_probe('rc', '{2}');
DROP TABLE rc;
