SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- arrangement_join: Custom Scan (ArrangementJoin) — plans chosen, and a differential check: every
-- query returns the same rows with parallel_material.enable_arrangement_join off and on.
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

CREATE TABLE cu (c_id int, seg text);
CREATE TABLE od (o_id int, c_id int, price int, odate date);
CREATE TABLE li (o_id int, line int, qty int);
INSERT INTO cu SELECT g, CASE WHEN g % 5 = 0 THEN 'AUTO' ELSE 'X' END FROM generate_series(1, 1000) g;
INSERT INTO cu VALUES (NULL, 'AUTO');
INSERT INTO od SELECT g, 1 + g % 1000, g % 97, date '2020-01-01' + g % 300 FROM generate_series(1, 20000) g;
INSERT INTO od VALUES (20001, NULL, 5, date '2020-01-01');
INSERT INTO li SELECT o, l, (o * l) % 50 FROM generate_series(1, 20000) o, generate_series(1, 3) l;
ANALYZE cu, od, li;
SELECT parallel_material.create_arrangement('od', '{c_id}', '{o_id, price, odate}');
SELECT parallel_material.create_arrangement('li', '{o_id}');

-- selective outer side, arranged inner: the arrangement is probed, nothing is built
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10;
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id, od.price FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);
SELECT pg_temp.diff($$SELECT * FROM cu JOIN od USING (c_id) WHERE cu.c_id < 50$$);
-- a chain: customer -> orders by c_id -> lineitem by o_id
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id, li.line, li.qty FROM cu JOIN od ON od.c_id = cu.c_id JOIN li ON li.o_id = od.o_id WHERE cu.seg = 'AUTO' AND cu.c_id < 100 AND od.odate > date '2020-09-01'$$);
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id, li.line, li.qty FROM cu JOIN od ON od.c_id = cu.c_id JOIN li ON li.o_id = od.o_id WHERE cu.seg = 'AUTO' AND cu.c_id < 100 AND od.odate > date '2020-09-01'$$);
-- extra join clauses are checked per match
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id AND od.price > cu.c_id % 50 WHERE cu.c_id < 30$$);
-- an aggregate over the join
SELECT pg_temp.diff($$SELECT cu.seg, count(*), sum(od.price) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id % 7 = 0 GROUP BY cu.seg$$);

-- rescanned with changing parameters (a correlated subquery, the outer side materialized)
SELECT * FROM pg_temp.plan($$SELECT x.k, (SELECT count(*) FROM (SELECT * FROM cu WHERE cu.c_id BETWEEN x.k AND x.k + 2 OFFSET 0) c JOIN od ON od.c_id = c.c_id) FROM generate_series(1, 40, 7) x(k)$$);
SELECT pg_temp.diff($$SELECT x.k, (SELECT count(*) FROM (SELECT * FROM cu WHERE cu.c_id BETWEEN x.k AND x.k + 2 OFFSET 0) c JOIN od ON od.c_id = c.c_id) FROM generate_series(1, 40, 7) x(k)$$);
SELECT pg_temp.diff($$SELECT x.k, (SELECT sum(od.price) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id = x.k) FROM generate_series(1, 40, 3) x(k)$$);
-- the same with a Sort under the outer side (rescans pass the changed parameter down)
SELECT * FROM pg_temp.plan($$SELECT x.k, (SELECT sum(od.price + c.c_id) FROM (SELECT * FROM cu WHERE cu.c_id BETWEEN x.k AND x.k + 2 ORDER BY c_id OFFSET 0) c JOIN od ON od.c_id = c.c_id) FROM generate_series(1, 40, 7) x(k)$$);
SELECT pg_temp.diff($$SELECT x.k, (SELECT sum(od.price + c.c_id) FROM (SELECT * FROM cu WHERE cu.c_id BETWEEN x.k AND x.k + 2 ORDER BY c_id OFFSET 0) c JOIN od ON od.c_id = c.c_id) FROM generate_series(1, 40, 7) x(k)$$);

-- not used: a column the arrangement lacks, another operator, other types (a LEFT JOIN to the
-- arranged table is used: arrangements_left_join)
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id < 3 AND od.ctid <> '(0,0)'$$);
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu LEFT JOIN od ON od.c_id = cu.c_id WHERE cu.c_id < 3$$);
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id < cu.c_id WHERE cu.c_id < 3$$);
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id::bigint WHERE cu.c_id < 3$$);
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id FROM cu LEFT JOIN od ON od.c_id = cu.c_id WHERE cu.c_id < 3 OR cu.c_id IS NULL$$);
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id::bigint WHERE cu.c_id < 3$$);
-- the setting turns the path off, as enable_hashjoin does
SET parallel_material.enable_arrangement_join = off;
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);
RESET parallel_material.enable_arrangement_join;

-- MVCC: the transaction's own writes, and a rolled back savepoint, are seen exactly
BEGIN;
INSERT INTO od VALUES (30000, 5, 1, date '2021-01-01');
DELETE FROM od WHERE o_id = 5;
UPDATE od SET price = 0 WHERE c_id = 10;
SAVEPOINT s;
DELETE FROM od WHERE c_id = 15;
ROLLBACK TO s;
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id, od.price FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id IN (5, 10, 15)$$);
SELECT count(*) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id IN (5, 10, 15);
COMMIT;
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id, od.price FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.c_id IN (5, 10, 15)$$);

-- an arrangement that is not ready is never planned on; the query still runs
VACUUM FULL od;
SELECT state FROM parallel_material.arrangements WHERE relation = 'od'::regclass;
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);
SELECT count(*) FROM parallel_material.arrangement_probe('od', '{1}');   -- rebuilds it
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);

-- a prepared plan survives dropping the arrangement (replanned)
PREPARE q AS SELECT count(*) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10;
EXECUTE q;
SELECT parallel_material.drop_arrangement('od');
EXECUTE q;
DEALLOCATE q;

-- row-level security: never read through the arrangement for a role it applies to
SELECT parallel_material.create_arrangement('od', '{c_id}', '{o_id, price, odate}');
CREATE ROLE arr_join_user;
GRANT SELECT ON cu, od TO arr_join_user;
ALTER TABLE od ENABLE ROW LEVEL SECURITY;
CREATE POLICY od_cheap ON od FOR SELECT USING (price < 5);
SET ROLE arr_join_user;
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10$$);
SELECT count(*) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10;
RESET ROLE;
DROP POLICY od_cheap ON od;
ALTER TABLE od DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON od FROM arr_join_user;
SET ROLE arr_join_user;
SELECT count(*) FROM cu JOIN od ON od.c_id = cu.c_id WHERE cu.seg = 'AUTO' AND od.price < 10;
RESET ROLE;

-- Quals over arranged columns only are checked on the match before its columns join the outer
-- row's (the rest after): plain, with an outer query's parameter, and under JIT (whose deform
-- code must read the match as the MinimalTuple it is, not as a virtual slot).
SELECT * FROM pg_temp.plan($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE od.price < 10 AND od.odate > date '2020-03-01' AND od.price + cu.c_id > 40 AND cu.c_id < 200$$);
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id FROM cu JOIN od ON od.c_id = cu.c_id WHERE od.price < 10 AND od.odate > date '2020-03-01' AND od.price + cu.c_id > 40 AND cu.c_id < 200$$);
SELECT pg_temp.diff($$SELECT x.k, (SELECT count(*) FROM cu JOIN od ON od.c_id = cu.c_id WHERE od.price < x.k AND cu.c_id < 100) FROM generate_series(1, 40, 13) x(k)$$);
SET jit = on;
SET jit_above_cost = 0;
SET jit_optimize_above_cost = 0;
SET jit_inline_above_cost = 0;
SELECT pg_temp.diff($$SELECT cu.c_id, od.o_id, li.line FROM cu JOIN od ON od.c_id = cu.c_id JOIN li ON li.o_id = od.o_id WHERE od.price < 10 AND li.qty > 25 AND cu.c_id < 200$$);
RESET jit;
RESET jit_above_cost;
RESET jit_optimize_above_cost;
RESET jit_inline_above_cost;

DROP TABLE cu, od, li;
REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM arr_join_user;
DROP ROLE arr_join_user;
