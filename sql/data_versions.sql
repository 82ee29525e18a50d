-- data_versions: every write path bumps the written relation's data version at commit; aborts do
-- not; the writing transaction itself bypasses sharing (savepoint rollback included); DDL bumps
-- the global version; partitions count for their ancestors and descendants; prepared
-- transactions poison until reset; an in-progress committer that is already visible makes the
-- reader skip, one that is not yet visible does not.
SET client_min_messages = warning;

-- Right after start or a reset, snapshots must see every older transaction as finished (an
-- autovacuum may hold one back for a moment): wait until the horizon is behind us.
CREATE FUNCTION pm_wait_horizon(rel regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  FOR i IN 1..1000 LOOP
    SELECT skip_reason INTO r FROM parallel_material.data_version_info(rel);
    IF r IS DISTINCT FROM 'snapshot older than the tracking horizon' THEN RETURN coalesce(r, 'ok'); END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN r;
END $$;

CREATE TABLE dv (id int PRIMARY KEY, v int);
SELECT pm_wait_horizon('dv');
SELECT parallel_material.data_version('dv') AS after_create;

-- Each write path, committed, is one version.
INSERT INTO dv SELECT g, g FROM generate_series(1, 10) g;
SELECT parallel_material.data_version('dv') AS after_insert;
UPDATE dv SET v = v + 1 WHERE id < 3;
SELECT parallel_material.data_version('dv') AS after_update;
DELETE FROM dv WHERE id = 10;
SELECT parallel_material.data_version('dv') AS after_delete;
MERGE INTO dv USING (VALUES (1), (11)) s(id) ON dv.id = s.id
  WHEN MATCHED THEN UPDATE SET v = 0 WHEN NOT MATCHED THEN INSERT VALUES (s.id, 0);
SELECT parallel_material.data_version('dv') AS after_merge;
COPY dv FROM STDIN;
20	20
\.
SELECT parallel_material.data_version('dv') AS after_copy;
TRUNCATE dv;
SELECT parallel_material.data_version('dv') AS after_truncate;
-- A write that changes nothing assigns no transaction id: no version.
UPDATE dv SET v = 1 WHERE id = -1;
SELECT parallel_material.data_version('dv') AS after_noop_update;
-- COPY TO and plain reads are not writes.
COPY dv TO STDOUT;
SELECT count(*) FROM dv;
SELECT parallel_material.data_version('dv') AS after_reads;

-- Aborted writes do not count.
BEGIN;
INSERT INTO dv VALUES (1, 1);
SELECT * FROM parallel_material.data_version_info('dv');
ROLLBACK;
SELECT parallel_material.data_version('dv') AS after_rollback;

-- The writer bypasses until its transaction ends, even after rolling back to a savepoint; the
-- commit counts (the transaction has an id).
BEGIN;
SELECT parallel_material.data_version('dv') AS before_write;
SAVEPOINT s;
INSERT INTO dv VALUES (1, 1);
ROLLBACK TO SAVEPOINT s;
SELECT skip_reason FROM parallel_material.data_version_info('dv');
COMMIT;
SELECT parallel_material.data_version('dv') AS after_savepoint_commit;

-- Writes through SPI, triggers and foreign-key actions.
CREATE TABLE dv_parent (id int PRIMARY KEY);
CREATE TABLE dv_child (pid int REFERENCES dv_parent ON DELETE CASCADE);
CREATE TABLE dv_log (n int);
CREATE FUNCTION dv_log_trigger() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO dv_log VALUES (1); RETURN NULL; END $$;
CREATE TRIGGER dv_log_after AFTER INSERT ON dv_child FOR EACH STATEMENT EXECUTE FUNCTION dv_log_trigger();
CREATE FUNCTION dv_insert_parent(n int) RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO dv_parent VALUES (n); END $$;
SELECT parallel_material.data_version('dv_parent') AS p, parallel_material.data_version('dv_child') AS c,
       parallel_material.data_version('dv_log') AS l;
SELECT dv_insert_parent(1);
INSERT INTO dv_child VALUES (1);
SELECT parallel_material.data_version('dv_parent') AS p, parallel_material.data_version('dv_child') AS c,
       parallel_material.data_version('dv_log') AS l;
DELETE FROM dv_parent;  -- cascades to dv_child
SELECT count(*) AS children_left FROM dv_child;
SELECT parallel_material.data_version('dv_parent') AS p, parallel_material.data_version('dv_child') AS c,
       parallel_material.data_version('dv_log') AS l;

-- Partitions: a write through the root counts for the leaf it reached and for the root; a write
-- of a leaf counts for its ancestors.
CREATE TABLE dv_part (k int) PARTITION BY RANGE (k);
CREATE TABLE dv_part_1 PARTITION OF dv_part FOR VALUES FROM (0) TO (100);
CREATE TABLE dv_part_2 PARTITION OF dv_part FOR VALUES FROM (100) TO (200);
INSERT INTO dv_part VALUES (1);
SELECT parallel_material.data_version('dv_part') AS root, parallel_material.data_version('dv_part_1') AS p1,
       parallel_material.data_version('dv_part_2') AS p2;
INSERT INTO dv_part_2 VALUES (150);
SELECT parallel_material.data_version('dv_part') AS root, parallel_material.data_version('dv_part_1') AS p1,
       parallel_material.data_version('dv_part_2') AS p2;

-- DDL, and writes of a catalog, bump the global version (part of every key) and make the
-- writing transaction bypass everything.
SELECT global_version AS g0 FROM parallel_material.data_version_info('dv') \gset
ALTER TABLE dv ADD COLUMN w int;
SELECT global_version > :g0 AS ddl_bumped_global FROM parallel_material.data_version_info('dv');
SELECT global_version AS g1 FROM parallel_material.data_version_info('dv') \gset
BEGIN;
CREATE INDEX ON dv (v);
SELECT skip_reason FROM parallel_material.data_version_info('dv_log');
COMMIT;
SELECT global_version > :g1 AS index_bumped_global FROM parallel_material.data_version_info('dv');
-- REFRESH MATERIALIZED VIEW: global. VACUUM FULL rewrites the table (every row version's
-- visibility kept, new ctids) in a transaction of its own: its new heap's creation counts there
-- as a write of everything.
CREATE MATERIALIZED VIEW dv_mv AS SELECT count(*) AS n FROM dv;
SELECT global_version AS g3 FROM parallel_material.data_version_info('dv') \gset
REFRESH MATERIALIZED VIEW dv_mv;
SELECT global_version > :g3 AS refresh_bumped_global FROM parallel_material.data_version_info('dv');
SELECT global_version AS g3 FROM parallel_material.data_version_info('dv') \gset
VACUUM FULL dv;
SELECT global_version > :g3 AS vacuum_full_bumped_global FROM parallel_material.data_version_info('dv');
SELECT global_version AS g2 FROM parallel_material.data_version_info('dv') \gset
VACUUM dv;
-- Temporary tables (also filled by CREATE TABLE AS / SELECT INTO) and plain reads, SET, ANALYZE,
-- VACUUM do not touch the global version.
CREATE TEMP TABLE dv_temp (a int);
INSERT INTO dv_temp VALUES (1);
CREATE TEMP TABLE dv_temp2 AS SELECT 1 AS a;
SELECT 1 AS a INTO TEMP dv_temp3;
SET work_mem = '8MB';
ANALYZE dv;
SELECT global_version = :g2 AS global_unchanged FROM parallel_material.data_version_info('dv');
SELECT * FROM parallel_material.data_version_info('dv_temp');

-- Serializable readers skip (they would need the predicate locks of their own scan).
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT skip_reason FROM parallel_material.data_version_info('dv');
COMMIT;

-- An in-progress committer that the snapshot already sees (committed, not yet counted) makes
-- the reader skip; one that the snapshot does not see yet is ignored.
BEGIN;
SELECT pg_current_xact_id() AS committed_xid \gset
COMMIT;
SELECT parallel_material.debug_set_committer('dv', :'committed_xid', true);
SELECT * FROM parallel_material.data_version_info('dv');
SELECT parallel_material.debug_set_committer('dv', :'committed_xid', false);
SELECT parallel_material.data_version('dv') AS back_to_counted;
SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000)::text::xid8 AS future_xid \gset
SELECT parallel_material.debug_set_committer('dv', :'future_xid', true);
SELECT parallel_material.data_version('dv') AS future_committer_ignored;
SELECT parallel_material.debug_set_committer('dv', :'future_xid', false);

-- PREPARE TRANSACTION poisons what it wrote until reset (COMMIT PREPARED may run elsewhere,
-- without our callbacks).
CREATE TABLE dv_2pc (a int);
BEGIN;
INSERT INTO dv_2pc VALUES (1);
PREPARE TRANSACTION 'dv_2pc';
SELECT * FROM parallel_material.data_version_info('dv_2pc');
COMMIT PREPARED 'dv_2pc';
SELECT * FROM parallel_material.data_version_info('dv_2pc');
SELECT parallel_material.data_version('dv') IS NOT NULL AS others_unaffected;

-- Reset: a new generation, every version back to 0, poisoning gone.
SELECT generation AS gen0 FROM parallel_material.data_version_info('dv') \gset
SELECT parallel_material.reset_data_versions();
SELECT pm_wait_horizon('dv_2pc');
SELECT version, generation > :gen0 AS new_generation, skip_reason
  FROM parallel_material.data_version_info('dv_2pc');
SELECT parallel_material.data_version('dv') AS dv_after_reset;
SET ROLE pg_monitor;
SELECT parallel_material.reset_data_versions();
RESET ROLE;

DROP MATERIALIZED VIEW dv_mv;
DROP TABLE dv, dv_parent, dv_child, dv_log, dv_part, dv_2pc;
DROP FUNCTION dv_log_trigger(), dv_insert_parent(int), pm_wait_horizon(regclass);
