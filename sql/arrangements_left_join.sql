SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangements_left_join: Custom Scan (ArrangementJoin) for `outer LEFT JOIN arranged` (the
-- arrangement on the nullable side). Every query returns the same rows with
-- parallel_material.enable_arrangement_join off (stock plan) and on; outer rows without a visible
-- match come back once with the arranged columns NULL; ON clauses decide a match, WHERE clauses
-- filter afterwards.
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
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q;
END $$;

-- pa: the preserved side (outer); nb: the nullable side, arranged on k.
-- pa.k: 1..60 and NULLs; nb.k: 1..40 (so 41..60 have no match), several rows per key for
-- k % 3 = 0, a NULL key row (never matches), and 20000 rows no pa row matches (so that a hash
-- of nb costs more than the probes).
CREATE TABLE pa (id int, k int, w int);
CREATE TABLE nb (k int, v int, t text);
INSERT INTO pa SELECT g, g, g % 7 FROM generate_series(1, 60) g;
INSERT INTO pa VALUES (61, NULL, 1), (62, NULL, 2);
INSERT INTO nb SELECT g, g % 10, 'r' || g FROM generate_series(1, 40) g;
INSERT INTO nb SELECT g, g % 10 + 3, 'dup' || g FROM generate_series(3, 40, 3) g;
INSERT INTO nb VALUES (NULL, 9, 'nullkey');
INSERT INTO nb SELECT g, g % 10, 'far' FROM generate_series(1000, 20999) g;
ANALYZE pa, nb;
SELECT parallel_material.create_arrangement('nb', '{k}');

-- the plan: ArrangementJoin with Join Type Left, no scan of nb
SELECT * FROM pg_temp.plan($$SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k$$);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k;
-- no match (41..60), several matches (k % 3 = 0), NULL outer keys (61, 62)
SELECT pa.id, pa.k, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k
 WHERE pa.id IN (1, 3, 6, 41, 60, 61, 62) ORDER BY pa.id, nb.t;
SELECT pg_temp.diff($$SELECT pa.id, pa.k, nb.k AS nk, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k$$);
SELECT pg_temp.diff($$SELECT * FROM pa LEFT JOIN nb USING (k)$$);
-- an ON clause on the inner side only: a failing one means "no match" (NULL-extended row)
SELECT * FROM pg_temp.plan($$SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5$$);
SELECT pa.id, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5
 WHERE pa.id IN (1, 6, 9, 41) ORDER BY pa.id, nb.t;
SELECT pg_temp.diff($$SELECT pa.id, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5$$);
-- an ON clause reading both sides
SELECT * FROM pg_temp.plan($$SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > pa.w$$);
SELECT pg_temp.diff($$SELECT pa.id, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > pa.w$$);
-- an ON clause on the outer side only (a join clause, not a filter of pa)
SELECT pg_temp.diff($$SELECT pa.id, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND pa.w < 3$$);
-- WHERE on the inner side (the anti-join pattern): filters after the NULL-extension
SELECT * FROM pg_temp.plan($$SELECT pa.id FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE nb.v IS NULL$$);
SELECT pa.id FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5 WHERE nb.v IS NULL AND pa.id < 12
 ORDER BY pa.id;
SELECT pg_temp.diff($$SELECT pa.id FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE nb.v IS NULL$$);
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5 WHERE nb.t IS NULL OR nb.v = 7$$);
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE coalesce(nb.v, -1) < pa.w$$);
-- WHERE on the outer side, and an aggregate over the join
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE pa.w = 2$$);
SELECT pg_temp.diff($$SELECT pa.w, count(*), count(nb.k), sum(nb.v) FROM pa LEFT JOIN nb ON nb.k = pa.k GROUP BY pa.w$$);
-- the fallback (heap scan and hash table) NULL-extends the same way
SET parallel_material.debug_join_fallback = on;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5 WHERE pa.id > 50;
SELECT pg_temp.diff($$SELECT pa.id, pa.k, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v > 5$$);
SELECT pg_temp.diff($$SELECT pa.id FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE nb.v IS NULL$$);
RESET parallel_material.debug_join_fallback;

-- MVCC: rows deleted, updated and inserted in the same transaction, then a savepoint rolled back
BEGIN;
DELETE FROM nb WHERE k BETWEEN 1 AND 5;
UPDATE nb SET v = v + 100 WHERE k BETWEEN 6 AND 8;
INSERT INTO nb VALUES (45, 1, 'new45');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k;
SELECT pa.id, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k
 WHERE pa.id IN (2, 7, 45, 46) ORDER BY pa.id, nb.t;
SELECT pg_temp.diff($$SELECT pa.id, pa.k, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k$$);
SELECT pg_temp.diff($$SELECT pa.id FROM pa LEFT JOIN nb ON nb.k = pa.k AND nb.v < 100 WHERE nb.k IS NULL$$);
SAVEPOINT s;
DELETE FROM nb WHERE k = 45;
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE pa.id > 40$$);
ROLLBACK TO s;
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE pa.id > 40$$);
COMMIT;
SELECT pg_temp.diff($$SELECT pa.id, pa.k, nb.v, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k$$);

-- a LEFT JOIN inside a larger query: an inner join above it reads the NULL-extended columns
SELECT pg_temp.diff($$SELECT pa.id, nb.v, p2.id FROM pa LEFT JOIN nb ON nb.k = pa.k JOIN pa p2 ON p2.id = pa.id WHERE coalesce(nb.v, 0) < 5$$);
-- a lateral/correlated use (rescans with parameters)
SELECT pg_temp.diff($$SELECT x.g, (SELECT count(nb.t) FROM (SELECT * FROM pa WHERE pa.k BETWEEN x.g AND x.g + 2 OFFSET 0) p LEFT JOIN nb ON nb.k = p.k) FROM generate_series(35, 45, 2) x(g)$$);

-- not used: the arrangement on the preserved side (RIGHT JOIN seen from nb), FULL JOIN,
-- a key clause only in WHERE
SELECT * FROM pg_temp.plan($$SELECT nb.t, pa.id FROM nb LEFT JOIN pa ON nb.k = pa.k$$);
SELECT * FROM pg_temp.plan($$SELECT pa.id, nb.t FROM pa FULL JOIN nb ON nb.k = pa.k$$);
SELECT pg_temp.diff($$SELECT nb.t, pa.id FROM nb LEFT JOIN pa ON nb.k = pa.k WHERE nb.k < 100$$);
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa FULL JOIN nb ON nb.k = pa.k WHERE nb.k IS NULL OR nb.k < 100$$);
SELECT pg_temp.diff($$SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON true WHERE nb.k = pa.k$$);

-- privileges are those of the inner join: a role without SELECT on nb is refused
CREATE ROLE pm_lj_reader LOGIN;
GRANT SELECT ON pa TO pm_lj_reader;
SET ROLE pm_lj_reader;
SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k;
RESET ROLE;
REVOKE SELECT ON pa FROM pm_lj_reader;
DROP ROLE pm_lj_reader;

-- trust is that of the inner join: once the maintenance triggers were disabled (writes may have
-- been missed), the LEFT JOIN keeps the stock plan, and its rows include the write
ALTER TABLE nb DISABLE TRIGGER ALL;
INSERT INTO nb VALUES (50, 5, 'missed');
ALTER TABLE nb ENABLE TRIGGER ALL;
SELECT * FROM pg_temp.plan($$SELECT pa.id, nb.v FROM pa LEFT JOIN nb ON nb.k = pa.k$$);
SELECT pa.id, nb.t FROM pa LEFT JOIN nb ON nb.k = pa.k WHERE pa.id = 50;

DROP TABLE pa, nb;
