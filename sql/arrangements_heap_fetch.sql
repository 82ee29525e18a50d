-- arrangements_heap_fetch: an arrangement that lacks columns a query reads (include => '{}': the
-- key only) still serves the join: ArrangementJoin probes it and fetches the other columns from
-- the heap by TID under the query's snapshot (docs/arrangements.md, "Heap fetch by TID").
-- Every query is compared with the stock plan (the join off); EXPLAIN shows Heap Columns and
-- Heap Fetches.
CREATE FUNCTION pg_temp.diff(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    stock text;
    arr text;
    n int;
BEGIN
    PERFORM set_config('parallel_material.enable_arrangement_join', 'off', true);
    EXECUTE format('SELECT string_agg(x::text, ''|'' ORDER BY x::text), count(*) FROM (%s) x', q)
       INTO stock, n;
    PERFORM set_config('parallel_material.enable_arrangement_join', 'on', true);
    EXECUTE format('SELECT string_agg(x::text, ''|'' ORDER BY x::text) FROM (%s) x', q) INTO arr;
    RETURN CASE WHEN stock IS NOT DISTINCT FROM arr THEN 'same, ' || n || ' rows' ELSE 'DIFFERENT' END;
END $$;
CREATE FUNCTION pg_temp.err_or(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- EXPLAIN ANALYZE's ArrangementJoin lines, without the row counts' format (18 prints "rows=1.00"
-- and buffers by default): the node, arrangement, heap columns, probes, matches, heap fetches.
CREATE FUNCTION pg_temp.analyze(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF line ~ 'ArrangementJoin|Arrangement:|Heap Columns:|Heap Fetches:|Probes:|Matches:' THEN
            RETURN NEXT btrim(regexp_replace(regexp_replace(line, '^.*-> *', ''), ' \(actual.*$', ''));
        END IF;
    END LOOP;
END $$;
-- The plan's ArrangementJoin lines (the node, its arrangement and heap columns), or 'stock'.
CREATE FUNCTION pg_temp.uses(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    acc text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line ~ 'ArrangementJoin|Arrangement:|Heap Columns:' THEN
            acc := acc || CASE WHEN acc = '' THEN '' ELSE '; ' END || btrim(regexp_replace(line, '^.*-> *', ''));
        END IF;
    END LOOP;
    RETURN CASE WHEN acc = '' THEN 'stock' ELSE acc END;
END $$;

-- autovacuum off: the VACUUM below must be the one that frees the line pointers
CREATE TABLE hf_o (o_id int, c int, note text) WITH (autovacuum_enabled = off);
CREATE TABLE hf_l (ok int, line int, qty int, price numeric, ship date, comment text)
  WITH (autovacuum_enabled = off, fillfactor = 50);
INSERT INTO hf_o SELECT g, g % 10, 'o' || g FROM generate_series(1, 10000) g;
INSERT INTO hf_o VALUES (NULL, 1, 'null key');
INSERT INTO hf_l SELECT 1 + g % 10000, g, g % 50, g * 1.25, date '2024-01-01' + g % 90,
                        CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('c', g % 5) || g END
  FROM generate_series(1, 40000) g;
INSERT INTO hf_l VALUES (NULL, 0, 1, 1, NULL, 'null key');
ANALYZE hf_o, hf_l;

-- include => '{}': the key only
SELECT parallel_material.create_arrangement('hf_l', '{ok}', '{}');
SELECT relation, key, columns, state FROM parallel_material.arrangements WHERE relation = 'hf_l'::regclass;

-- a selective outer side: the key-only arrangement is probed, the other columns fetched
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT * FROM pg_temp.analyze($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30 AND l.line % 2 = 0$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- the key alone read: no heap column, no fetch
SELECT pg_temp.uses($$SELECT o.o_id, o.note FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT * FROM pg_temp.analyze($$SELECT o.o_id, o.note FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.diff($$SELECT o.o_id, o.note FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- quals on fetched columns, join clauses reading both sides' fetched columns, SELECT *, NULLs
SELECT pg_temp.diff($$SELECT * FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 40 AND l.ship > date '2024-02-15'$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.line FROM hf_o o JOIN hf_l l ON l.ok = o.o_id AND l.qty > o.c * 3 WHERE o.o_id < 40$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.comment IS NULL, l.price FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 60 AND l.comment IS NULL$$);
SELECT pg_temp.diff($$SELECT o.c, count(*), sum(l.price), max(l.comment) FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id % 97 = 1 GROUP BY o.c$$);
-- LEFT JOIN: an ON clause on a fetched column decides the match; WHERE on one filters after
SELECT pg_temp.uses($$SELECT o.o_id, l.line FROM hf_o o LEFT JOIN hf_l l ON l.ok = o.o_id AND l.qty < 10 WHERE o.o_id < 30$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.qty FROM hf_o o LEFT JOIN hf_l l ON l.ok = o.o_id AND l.qty < 10 WHERE o.o_id < 30$$);
SELECT pg_temp.diff($$SELECT o.o_id FROM hf_o o LEFT JOIN hf_l l ON l.ok = o.o_id AND l.comment LIKE 'cc%' WHERE o.o_id < 60 AND l.comment IS NULL$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.line FROM hf_o o LEFT JOIN hf_l l ON l.ok = o.o_id WHERE (o.o_id < 30 OR o.o_id IS NULL) AND coalesce(l.price, 0) < 1000$$);
-- rescanned with changing parameters
SELECT pg_temp.diff($$SELECT x.k, (SELECT sum(l.price) FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id = x.k) FROM generate_series(1, 40, 3) x(k)$$);
-- a system column or whole row of the arranged table still keeps the stock plan
SELECT pg_temp.uses($$SELECT o.o_id, l.ctid FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.uses($$SELECT o.o_id, l FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
-- parallel_material.enable_arrangement_heap_fetch = off: only an arrangement holding every
-- column read serves the join
SET parallel_material.enable_arrangement_heap_fetch = off;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.uses($$SELECT o.o_id FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
RESET parallel_material.enable_arrangement_heap_fetch;
-- a large outer side: a heap fetch per match costs more than stock's hash join, which wins
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id$$);

-- the fallback (an execution that may not read the arrangement) fetches the same way
SET parallel_material.debug_join_fallback = on;
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.qty FROM hf_o o LEFT JOIN hf_l l ON l.ok = o.o_id AND l.qty < 10 WHERE o.o_id < 30$$);
RESET parallel_material.debug_join_fallback;

-- writes: the fetched version is the one the query's snapshot sees
BEGIN;
-- HOT updates (fillfactor 50: room on the page) of fetched columns, in this transaction
UPDATE hf_l SET comment = 'hot ' || line, qty = qty + 1 WHERE ok BETWEEN 1 AND 10;
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 15$$);
-- a key update moves the row to another key
UPDATE hf_l SET ok = 11, comment = 'moved' WHERE ok = 2;
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 15$$);
SAVEPOINT s;
UPDATE hf_l SET comment = 'rolled back' WHERE ok = 3;
DELETE FROM hf_l WHERE ok = 4;
ROLLBACK TO s;
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 15$$);
-- a cursor opened before an update reads the versions its snapshot saw
DECLARE cur CURSOR FOR SELECT l.line, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id = 5 ORDER BY l.line;
UPDATE hf_l SET comment = 'after the cursor' WHERE ok = 5;
FETCH ALL FROM cur;
SELECT l.line, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id = 5 ORDER BY l.line;
COMMIT;
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 15$$);

-- a deleted and vacuumed TID reused by a new row (a one-page table: the insert reuses the freed
-- line pointers): the arrangement holds the dead version and the new one at that TID (no reclaim
-- ran), same key; the snapshot sees the new one only, and the fetch returns it
CREATE TABLE hf_r (ok int, v text) WITH (autovacuum_enabled = off);
INSERT INTO hf_r SELECT g % 5, 'old ' || g FROM generate_series(1, 10) g;
SELECT parallel_material.create_arrangement('hf_r', '{ok}', '{}');
CREATE TEMP TABLE hf_old AS SELECT ctid AS tid FROM hf_r WHERE ok = 2;
DELETE FROM hf_r WHERE ok = 2;
VACUUM hf_r;
INSERT INTO hf_r SELECT 2, 'reused ' || g FROM generate_series(1, 2) g;
SELECT count(*) AS tids_reused FROM hf_r WHERE ctid IN (SELECT tid FROM hf_old) AND ok = 2;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT pg_temp.uses($$SELECT o.o_id, r.v FROM hf_o o JOIN hf_r r ON r.ok = o.o_id WHERE o.o_id < 5$$);
SELECT o.o_id, r.v FROM hf_o o JOIN hf_r r ON r.ok = o.o_id WHERE o.o_id < 5 ORDER BY 1, 2;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT pg_temp.diff($$SELECT o.o_id, r.v FROM hf_o o JOIN hf_r r ON r.ok = o.o_id WHERE o.o_id < 5$$);
SELECT * FROM parallel_material.arrangement_check('hf_r');

-- parallel: every participant fetches under the leader's snapshot
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.c = 3$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.c = 3$$);
SELECT pg_temp.diff($$SELECT o.c, count(*), sum(l.price), count(l.comment) FROM hf_o o JOIN hf_l l ON l.ok = o.o_id GROUP BY o.c$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- a chain through two key-only arrangements
CREATE TABLE hf_c (c_id int, seg text);
INSERT INTO hf_c SELECT g, CASE WHEN g % 3 = 0 THEN 'A' ELSE 'B' END FROM generate_series(0, 9) g;
ANALYZE hf_c;
SELECT parallel_material.create_arrangement('hf_o', '{c}', '{}');
SELECT pg_temp.diff($$SELECT c.seg, o.o_id, o.note, l.line, l.comment FROM hf_c c JOIN hf_o o ON o.c = c.c_id JOIN hf_l l ON l.ok = o.o_id WHERE c.c_id = 3 AND o.o_id < 200$$);

-- a dropped fetched column: the cached plan is replanned, never read as another type
PREPARE p AS SELECT o.o_id, l.comment FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id = 7 ORDER BY 2;
EXECUTE p;
ALTER TABLE hf_l DROP COLUMN comment;
SELECT pg_temp.err_or($$EXECUTE p$$) AS after_drop;
DEALLOCATE p;
SELECT pg_temp.diff($$SELECT o.o_id, l.line, l.price FROM hf_o o JOIN hf_l l ON l.ok = o.o_id WHERE o.o_id < 15$$);
DROP TABLE hf_o, hf_l, hf_c, hf_r;
