SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_parallel: Custom Scan (ArrangementJoin) in parallel plans. The partial path (its
-- outer side a partial path) runs in every participant under Gather; each probes the same shared
-- arrangement with the leader's snapshot. Every query's result is compared with the stock plan
-- (parallel_material.enable_arrangement_join off), with and without the leader participating.
CREATE TABLE pcu (c_id int, seg text);
CREATE TABLE pod (o_id int, c_id int, price int);
CREATE TABLE pli (o_id int, line int, qty int);
INSERT INTO pcu SELECT g, CASE WHEN g % 5 = 0 THEN 'AUTO' ELSE 'X' END FROM generate_series(1, 20000) g;
INSERT INTO pcu VALUES (NULL, 'AUTO');
INSERT INTO pod SELECT g, 1 + g % 20000, g % 97 FROM generate_series(1, 60000) g;
INSERT INTO pli SELECT o, l, (o * l) % 50 FROM generate_series(1, 60000) o, generate_series(1, 2) l;
ANALYZE pcu, pod, pli;
SELECT parallel_material.create_arrangement('pod', '{c_id}', '{o_id, price}');
SELECT parallel_material.create_arrangement('pli', '{o_id}');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- pod and pli are only probed: keep their scans serial so the stock plans stay comparable
ALTER TABLE pod SET (parallel_workers = 0);
ALTER TABLE pli SET (parallel_workers = 0);

-- one join: Gather over the partial ArrangementJoin, its outer side a Parallel Seq Scan
\set q 'SELECT pcu.c_id, pod.o_id, pod.price FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.seg = $$AUTO$$ AND pod.price < 50'
EXPLAIN (COSTS OFF) :q;
SET parallel_material.enable_arrangement_join = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS h, count(*) AS n FROM (:q) x \gset stock_
RESET parallel_material.enable_arrangement_join;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) = :'stock_h' AS same, count(*) = :stock_n AS same_count, :stock_n AS n FROM (:q) x;
-- the workers alone (the leader only gathers)
SET parallel_leader_participation = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) = :'stock_h' AS same_in_workers FROM (:q) x;
RESET parallel_leader_participation;

-- EXPLAIN ANALYZE sums every participant's probes and matches (one probe per outer row with a key)
CREATE FUNCTION pg_temp.analyze_counts(q text) RETURNS TABLE (parallel_aware bool, probes bigint, matches bigint, built bigint)
LANGUAGE plpgsql AS $$
DECLARE
    plan json;
    node json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || q INTO plan;
    node := plan -> 0 -> 'Plan';
    WHILE node ->> 'Custom Plan Provider' IS DISTINCT FROM 'ArrangementJoin' LOOP
        node := node -> 'Plans' -> 0;
    END LOOP;
    RETURN QUERY SELECT (node ->> 'Parallel Aware')::bool, (node ->> 'Probes')::bigint,
        (node ->> 'Matches')::bigint, (node ->> 'Hash Bytes Built')::bigint;
END $$;
SET parallel_leader_participation = off;
SELECT * FROM pg_temp.analyze_counts($$SELECT count(*) FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.seg = 'AUTO'$$);
RESET parallel_leader_participation;
SELECT count(*) AS outer_rows_with_key, (SELECT count(*) FROM pcu JOIN pod USING (c_id) WHERE pcu.seg = 'AUTO') AS matches
  FROM pcu WHERE seg = 'AUTO' AND c_id IS NOT NULL;

-- a chain: customer -> orders by c_id -> lineitem by o_id, both joins in the workers
\set q 'SELECT pcu.c_id, pod.o_id, pli.line, pli.qty FROM pcu JOIN pod ON pod.c_id = pcu.c_id JOIN pli ON pli.o_id = pod.o_id WHERE pcu.seg = $$AUTO$$ AND pod.price < 20'
EXPLAIN (COSTS OFF) :q;
SET parallel_material.enable_arrangement_join = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS h, count(*) AS n FROM (:q) x \gset stock_
RESET parallel_material.enable_arrangement_join;
SET parallel_leader_participation = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) = :'stock_h' AS same, :stock_n AS n FROM (:q) x;
RESET parallel_leader_participation;
-- an aggregate over the parallel join (partial aggregates in the workers)
\set q 'SELECT pcu.seg, count(*), sum(pod.price) FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.c_id % 3 = 0 GROUP BY pcu.seg'
EXPLAIN (COSTS OFF) :q;
SET parallel_material.enable_arrangement_join = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM (:q) x \gset stock_
RESET parallel_material.enable_arrangement_join;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) = :'stock_h' AS same FROM (:q) x;

-- MVCC in the workers: the leader's transaction's own writes (its xids and command ids come
-- with the snapshot), an insert and a delete of the same row (a combo command id in the heap),
-- and a rolled back savepoint
\set q 'SELECT pcu.c_id, pod.o_id, pod.price FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.c_id % 1000 = 5'
BEGIN;
INSERT INTO pod VALUES (70001, 5, 1), (70002, 1005, 2);
DELETE FROM pod WHERE o_id = 5;
UPDATE pod SET price = price + 1000 WHERE c_id = 2005;
DELETE FROM pod WHERE o_id = 70002;
SAVEPOINT s;
DELETE FROM pod WHERE c_id = 3005;
INSERT INTO pod VALUES (70003, 4005, 3);
ROLLBACK TO s;
INSERT INTO pod VALUES (70004, 6005, 4);
EXPLAIN (COSTS OFF) :q;
SET LOCAL parallel_material.enable_arrangement_join = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS h, count(*) AS n FROM (:q) x \gset stock_
SET LOCAL parallel_material.enable_arrangement_join = on;
SET LOCAL parallel_leader_participation = off;
SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) = :'stock_h' AS same, :stock_n AS n FROM (:q) x;
SELECT count(*) FILTER (WHERE pod.o_id IN (70001, 70004)) AS own_inserts,
       count(*) FILTER (WHERE pod.o_id IN (5, 70002, 70003)) AS deleted_or_rolled_back,
       count(*) FILTER (WHERE pod.price >= 1000) AS updated
  FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.c_id % 1000 = 5;
COMMIT;

-- SERIALIZABLE: the relation predicate lock a scan of pod would take, held by the transaction
BEGIN ISOLATION LEVEL SERIALIZABLE;
SET LOCAL parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.seg = 'AUTO';
SELECT count(*) FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.seg = 'AUTO';
SELECT relation::regclass, mode FROM pg_locks
 WHERE locktype = 'relation' AND mode = 'SIReadLock' AND relation = 'pod'::regclass;
COMMIT;

-- without workers, the serial (non-partial, parallel-unsafe) path as before
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT count(*) FROM pcu JOIN pod ON pod.c_id = pcu.c_id WHERE pcu.seg = 'AUTO';

DROP TABLE pcu, pod, pli;
