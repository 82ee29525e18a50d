-- Row arrangements (issue 15, "two arrangements of one table share its row bytes";
-- docs/arrangements.md, "Row arrangements"): one copy of a table's columns per heap tuple version,
-- keyed by TID, read by the table's key-only arrangements instead of the heap. Every query is
-- compared with the stock plan (the join off) after random writes: key updates, HOT updates,
-- deletes, rolled-back subtransactions, VACUUM reusing line pointers.
CREATE EXTENSION IF NOT EXISTS parallel_material;
SET client_min_messages = warning;
CREATE TABLE rs_o (k int, c int, v text, w int, pad text) WITH (fillfactor = 70);
INSERT INTO rs_o SELECT g, g % 40, 'v' || g, g * 2, repeat('x', g % 7) FROM generate_series(1, 3000) g;
CREATE TABLE rs_c (c int, name text);
INSERT INTO rs_c SELECT g, 'c' || g FROM generate_series(0, 41) g;
ANALYZE rs_o;
ANALYZE rs_c;

-- Two key-only arrangements and one row arrangement holding every column.
SELECT parallel_material.create_arrangement('rs_o', '{c}', '{}');
SELECT parallel_material.create_arrangement('rs_o', '{k}', '{}');
SELECT parallel_material.create_row_arrangement('rs_o');
SELECT relation, key, columns, state FROM parallel_material.arrangements ORDER BY key::text;
-- Refusals: a second row arrangement, one without columns, NULL.
SELECT parallel_material.create_row_arrangement('rs_o');
SELECT parallel_material.create_row_arrangement('rs_o', '{}');
SELECT parallel_material.create_row_arrangement(NULL);

SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET max_parallel_workers_per_gather = 0;

-- EXPLAIN ANALYZE's ArrangementJoin lines, without the row counts' format (18 prints "rows=1.00"
-- and buffers by default).
CREATE FUNCTION pg_temp.analyze(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF line ~ 'ArrangementJoin|Arrangement:|Columns:|Heap Fetches:|Row Lookups:|Probes:|Matches:' THEN
            RETURN NEXT btrim(regexp_replace(regexp_replace(line, '^.*-> *', ''), ' \(actual.*$', ''));
        END IF;
    END LOOP;
END $$;
-- The join reads the columns its arrangement lacks from the row arrangement.
EXPLAIN (COSTS OFF) SELECT rs_c.name, rs_o.v, rs_o.w FROM rs_c JOIN rs_o ON rs_o.c = rs_c.c WHERE rs_c.c < 3;
SELECT pg_temp.analyze('SELECT rs_c.name, rs_o.v, rs_o.w FROM rs_c JOIN rs_o ON rs_o.c = rs_c.c WHERE rs_c.c < 3');
-- Off: the heap fetch.
SET parallel_material.enable_arrangement_row_lookup = off;
SELECT pg_temp.analyze('SELECT rs_c.name, rs_o.v, rs_o.w FROM rs_c JOIN rs_o ON rs_o.c = rs_c.c WHERE rs_c.c < 3');
RESET parallel_material.enable_arrangement_row_lookup;

-- Rows of q with the join on (through the row arrangement: checked) against the stock plan.
CREATE FUNCTION rs_diff(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plan text;
    n_on bigint;
    d1 bigint;
    d2 bigint;
BEGIN
    PERFORM set_config('parallel_material.enable_arrangement_join', 'on', true);
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO plan;
    DROP TABLE IF EXISTS rs_on, rs_off;
    EXECUTE 'CREATE TEMP TABLE rs_on AS ' || q;
    PERFORM set_config('parallel_material.enable_arrangement_join', 'off', true);
    EXECUTE 'CREATE TEMP TABLE rs_off AS ' || q;
    PERFORM set_config('parallel_material.enable_arrangement_join', 'on', true);
    SELECT count(*) INTO n_on FROM rs_on;
    SELECT count(*) INTO d1 FROM (SELECT * FROM rs_on EXCEPT ALL SELECT * FROM rs_off) x;
    SELECT count(*) INTO d2 FROM (SELECT * FROM rs_off EXCEPT ALL SELECT * FROM rs_on) x;
    RETURN format('%s rows, %s differences, %s', CASE WHEN n_on > 0 THEN 'some' ELSE 'no' END,
                  d1 + d2,
                  CASE WHEN plan LIKE '%"Row Lookups"%' THEN 'row lookups'
                       WHEN plan LIKE '%"Heap Fetches"%' THEN 'heap fetches'
                       WHEN plan LIKE '%ArrangementJoin%' THEN 'arranged'
                       ELSE 'stock' END);
END $$;

CREATE VIEW rs_q1 AS SELECT rs_c.name, rs_o.k, rs_o.v, rs_o.w, rs_o.pad FROM rs_c JOIN rs_o ON rs_o.c = rs_c.c WHERE rs_c.c % 3 = 0;
CREATE TABLE rs_keys (k int);
INSERT INTO rs_keys SELECT g * 7 FROM generate_series(1, 500) g;
ANALYZE rs_keys;

-- Random writes, one batch per round, each with a subtransaction rolled back; a VACUUM between
-- rounds lets deleted rows' line pointers be reused by the next round's inserts.
CREATE FUNCTION rs_round(seed float8, n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    i int;
    r float8;
BEGIN
    PERFORM setseed(seed);
    FOR i IN 1 .. n LOOP
        r := random();
        IF r < 0.25 THEN
            INSERT INTO rs_o SELECT 3000 + (random() * 100000)::int, (random() * 45)::int,
                                    'n' || i, (random() * 1000)::int, repeat('y', (random() * 5)::int);
        ELSIF r < 0.45 THEN  -- HOT candidates: no index, fillfactor 70
            UPDATE rs_o SET w = w + 1, v = v || '+' WHERE k = (random() * 3000)::int;
        ELSIF r < 0.6 THEN   -- the key changes
            UPDATE rs_o SET c = (random() * 45)::int WHERE k = (random() * 3000)::int;
        ELSIF r < 0.75 THEN
            DELETE FROM rs_o WHERE k = (random() * 3000)::int;
        ELSE
            BEGIN
                UPDATE rs_o SET c = c + 1, w = -w WHERE k = (random() * 3000)::int;
                INSERT INTO rs_o VALUES (-1, 1, 'aborted', 0, '');
                DELETE FROM rs_o WHERE k = (random() * 3000)::int;
                RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN
                NULL;
            END;
        END IF;
    END LOOP;
END $$;

SELECT rs_diff('SELECT * FROM rs_q1');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT rs_round(0.1, 400);
SELECT rs_diff('SELECT * FROM rs_q1');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
-- HOT updates happen (this transaction's own count) and are read right.
BEGIN;
UPDATE rs_o SET w = w + 100 WHERE k BETWEEN 1 AND 300;
SELECT pg_stat_get_xact_tuples_hot_updated('rs_o'::regclass) > 0 AS hot_updates;
COMMIT;
SELECT rs_diff('SELECT * FROM rs_q1');
-- Deleted rows' line pointers reused after VACUUM: the new rows take the old TIDs.
CREATE TEMP TABLE rs_dead AS SELECT ctid AS t FROM rs_o WHERE k % 5 = 0 AND k <= 3000;
DELETE FROM rs_o WHERE k % 5 = 0 AND k <= 3000;
VACUUM rs_o;
INSERT INTO rs_o SELECT 200000 + g, g % 40, 'r' || g, g, 'reused' FROM generate_series(1, 600) g;
SELECT count(*) > 0 AS tids_reused FROM rs_o JOIN rs_dead ON rs_o.ctid = rs_dead.t WHERE rs_o.k > 200000;
SELECT rs_diff('SELECT * FROM rs_q1');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
DO $$ BEGIN FOR r IN 1 .. 4 LOOP PERFORM rs_round(0.2 + r / 10.0, 200); END LOOP; END $$;
VACUUM rs_o;
SELECT rs_round(0.9, 300);
SELECT rs_diff('SELECT * FROM rs_q1');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
-- Reclaim (compacts and groups versions, frees dead ones) changes nothing.
SELECT count(*) >= 0 AS reclaimed FROM parallel_material.arrangement_reclaim('rs_o', '{}');
SELECT rs_diff('SELECT * FROM rs_q1');

-- The same transaction's earlier statements (their maintenance has run: read through the
-- arrangements, this transaction's own versions visible by command id), a savepoint rolled back.
BEGIN;
UPDATE rs_o SET v = 'in-tx', c = 2 WHERE k BETWEEN 10 AND 40;
SAVEPOINT s;
DELETE FROM rs_o WHERE k BETWEEN 10 AND 20;
ROLLBACK TO s;
SELECT rs_diff('SELECT * FROM rs_q1');
COMMIT;
SELECT rs_diff('SELECT * FROM rs_q1');

-- A row arrangement without the columns read: the heap fetch.
SELECT parallel_material.drop_arrangement('rs_o', '{}');
SELECT parallel_material.create_row_arrangement('rs_o', '{v}');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT * FROM parallel_material.arrangement_check('rs_o', '{}');

-- A row arrangement whose maintenance was ever off is not read again: the heap fetch.
-- (Only the row arrangement's own triggers: the key-only one stays trusted.)
DO $$
DECLARE
    id bigint;
BEGIN
    SELECT defid INTO id FROM parallel_material.arrangement_defs
     WHERE relid = 'rs_o'::regclass AND key_attnums = '{}';
    EXECUTE format('ALTER TABLE rs_o DISABLE TRIGGER pm_arrangement_%s', id);
    UPDATE rs_o SET v = 'missed' WHERE k < 50;
    EXECUTE format('ALTER TABLE rs_o ENABLE ALWAYS TRIGGER pm_arrangement_%s', id);
END $$;
SELECT rs_diff('SELECT rs_keys.k, rs_o.v FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT parallel_material.drop_arrangement('rs_o', '{}');
SELECT parallel_material.drop_arrangement('rs_o', '{c}');
SELECT parallel_material.drop_arrangement('rs_o', '{k}');
SELECT parallel_material.create_arrangement('rs_o', '{k}', '{}');
SELECT parallel_material.create_row_arrangement('rs_o', '{v, w}');
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT rs_round(0.5, 200);
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');

-- LEFT JOIN and parallel workers (each worker reads the row arrangement its leader pinned).
INSERT INTO rs_keys VALUES (-5), (NULL);
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys LEFT JOIN rs_o ON rs_o.k = rs_keys.k');
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
ALTER TABLE rs_keys SET (parallel_workers = 2);
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;

-- TRUNCATE, then refilled.
TRUNCATE rs_o;
INSERT INTO rs_o SELECT g, g % 40, 't' || g, g, '' FROM generate_series(1, 700) g;
SET max_parallel_workers_per_gather = 0;
SELECT rs_diff('SELECT rs_keys.k, rs_o.v, rs_o.w FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');
SELECT * FROM parallel_material.arrangement_check('rs_o', '{}');

-- Dropping a column the row arrangement holds drops it, as any arrangement holding the column.
DROP VIEW rs_q1;
ALTER TABLE rs_o DROP COLUMN w;
SELECT relation, key, columns FROM parallel_material.arrangements ORDER BY key::text;
SELECT rs_diff('SELECT rs_keys.k, rs_o.v FROM rs_keys JOIN rs_o ON rs_o.k = rs_keys.k');

DROP TABLE rs_o CASCADE;
DROP TABLE rs_c, rs_keys;
DROP FUNCTION rs_diff(text);
DROP FUNCTION rs_round(float8, int);
