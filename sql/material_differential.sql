-- material_differential: the same queries with parallel_material.enable off and on must return
-- identical results; each query is forced into plans with Material nodes. For each query: whether
-- the results matched, whether the extension's node was in the plan, and the row count.
CREATE TABLE dt_a (id int, k int, v numeric, t text, d date, n int8, j jsonb);
CREATE TABLE dt_b (id int, k int, v numeric, t text, d date, n int8, j jsonb, arr int[], big text);
CREATE TABLE dt_c (id int, k int);
CREATE TABLE dt_empty (id int);
CREATE TABLE dt_scratch (x int);
CREATE TABLE dt_m AS SELECT g AS id, g % 11 AS k, (g * 3 % 89)::numeric AS v, 't' || (g % 23) AS t, md5(g::text) AS pad
  FROM generate_series(1, 4000) g;  -- merge-join inner larger than work_mem
INSERT INTO dt_a SELECT g, g % 9, (g * 7 % 101)::numeric / 3, 't' || (g % 37), date '2020-01-01' + g,
       g::int8 * 1000003, jsonb_build_object('n', g % 5) FROM generate_series(1, 300) g;
INSERT INTO dt_b SELECT g, g % 11, CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 3 % 89)::numeric END,
       't' || (g % 23), date '2020-03-01' + g % 50, g::int8 * 999983, jsonb_build_object('n', g),
       ARRAY[g, g + 1, g * 2], repeat('x', g * 7) FROM generate_series(1, 300) g;
INSERT INTO dt_b SELECT id, k, v, t, d, n, j, arr, big FROM dt_b WHERE id % 10 = 0;  -- duplicates
INSERT INTO dt_c SELECT g, g % 5 FROM generate_series(1, 150) g;
INSERT INTO dt_scratch SELECT g FROM generate_series(1, 5) g;
ANALYZE dt_a, dt_b, dt_c, dt_empty, dt_scratch, dt_m;

-- Runs q with the extension off and on (in a subtransaction each, rolled back, so writes do
-- not leak), compares the sorted results, and reports whether ParallelMaterial was used.
CREATE FUNCTION pm_diff(q text, OUT same boolean, OUT uses_node boolean, OUT nrows bigint)
LANGUAGE plpgsql AS $$
DECLARE
  off_rows text[];
  on_rows text[];
  plan text;
BEGIN
  PERFORM set_config('parallel_material.enable', 'off', true);
  BEGIN
    EXECUTE format('SELECT coalesce(array_agg(r::text ORDER BY r::text), ''{}'') FROM (%s) r', q) INTO off_rows;
    RAISE EXCEPTION 'rollback' USING ERRCODE = 'P0001';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  PERFORM set_config('parallel_material.enable', 'on', true);
  BEGIN
    EXECUTE format('SELECT coalesce(array_agg(r::text ORDER BY r::text), ''{}'') FROM (%s) r', q) INTO on_rows;
    RAISE EXCEPTION 'rollback' USING ERRCODE = 'P0001';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  plan := '';
  FOR plan IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    EXIT WHEN plan LIKE '%ParallelMaterial%';
  END LOOP;
  uses_node := plan LIKE '%ParallelMaterial%';
  PERFORM set_config('parallel_material.enable', 'off', true);
  same := off_rows IS NOT DISTINCT FROM on_rows;
  nrows := cardinality(off_rows);
END $$;

SET max_parallel_workers_per_gather = 0;

-- nested loops: hash and merge joins off
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT n, same, uses_node, nrows FROM (VALUES
  (1, 'SELECT a.id, b.id FROM dt_a a JOIN dt_b b ON a.id < b.id AND a.k = b.k'),
  (2, 'SELECT a.id, b.id FROM dt_a a JOIN dt_b b ON a.id BETWEEN b.id - 2 AND b.id + 2'),
  (3, 'SELECT a.id, b.v FROM dt_a a LEFT JOIN dt_b b ON a.id < b.id - 190'),
  (4, 'SELECT a.id, b.v FROM dt_a a RIGHT JOIN dt_b b ON a.id > b.id + 295'),
  (5, 'SELECT count(*) FROM dt_a a JOIN dt_b b ON a.t < b.t'),
  (6, 'SELECT a.k, count(*) FROM dt_a a JOIN dt_b b ON a.id <> b.id AND a.k = b.k GROUP BY a.k'),
  (7, 'SELECT a.id FROM dt_a a WHERE EXISTS (SELECT 1 FROM dt_b b WHERE b.id > a.id * 2)'),
  (8, 'SELECT a.id FROM dt_a a WHERE NOT EXISTS (SELECT 1 FROM dt_b b WHERE b.id >= a.id)'),
  (9, 'SELECT a.id, b.id, c.id FROM dt_a a JOIN dt_b b ON a.id < b.id JOIN dt_c c ON b.id < c.id WHERE a.id < 40'),
  (10, 'SELECT a.id, b.id FROM dt_a a JOIN dt_b b ON a.id < b.id WHERE b.v IS NULL'),
  (11, 'SELECT a.id, b.id FROM dt_a a JOIN dt_b b ON a.t LIKE b.t || ''%'''),
  (12, 'SELECT a.id, b.id FROM dt_a a JOIN dt_empty b ON a.id < b.id'),
  (13, 'SELECT a.id, b.id FROM dt_empty a JOIN dt_b b ON a.id < b.id'),
  (14, 'SELECT a.id, b.id FROM dt_a a LEFT JOIN dt_empty b ON a.id < b.id'),
  (15, 'SELECT a.id, s.n FROM dt_a a JOIN (SELECT k, count(*) n FROM dt_b GROUP BY k) s ON a.k < s.k'),
  (16, 'SELECT a.id, s.x FROM dt_a a JOIN (SELECT DISTINCT v AS x FROM dt_b) s ON a.v < s.x'),
  (17, 'SELECT a.id, s.x FROM dt_a a JOIN (SELECT v AS x FROM dt_b ORDER BY v LIMIT 7) s ON a.v > s.x'),
  (18, 'SELECT a.id, s.g FROM dt_a a JOIN generate_series(1, 30) s(g) ON a.id < s.g'),
  (19, 'SELECT a.id, v.x FROM dt_a a JOIN (VALUES (1), (5), (NULL), (9)) v(x) ON a.id <= v.x'),
  (20, 'SELECT a.id, b.arr FROM dt_a a JOIN dt_b b ON a.id = ANY(b.arr) AND a.id < 50'),
  (21, 'SELECT a.id, b.j FROM dt_a a JOIN dt_b b ON (b.j->>''n'')::int > a.id + 280'),
  (22, 'SELECT a.id, u.id FROM dt_a a JOIN (SELECT id FROM dt_b UNION ALL SELECT id FROM dt_c) u ON a.id > u.id + 295'),
  (23, 'SELECT a.id, u.id FROM dt_a a JOIN (SELECT id FROM dt_b UNION SELECT id FROM dt_c) u ON a.id > u.id + 295'),
  (24, 'SELECT a.id, w.r FROM dt_a a JOIN (SELECT id, rank() OVER (PARTITION BY k ORDER BY v) r FROM dt_b) w ON a.id < w.r'),
  (25, 'WITH m AS MATERIALIZED (SELECT id, k FROM dt_b WHERE id % 3 = 0) SELECT a.id, m.id FROM dt_a a JOIN m ON a.id < m.id AND a.k = m.k'),
  (26, 'SELECT a.id, b.id FROM dt_a a JOIN dt_b b ON a.id < b.id ORDER BY a.id DESC, b.id LIMIT 25'),
  (27, 'SELECT a.id, b.id FROM dt_a a, dt_b b WHERE a.id * b.id = 600'),
  (28, 'SELECT a.id, b.big FROM dt_a a JOIN dt_b b ON a.id = b.id - 1 AND a.id < b.id')
) v(n, q), LATERAL pm_diff(q) ORDER BY n;

-- merge joins: hash joins and nested loops off
RESET ALL; SET max_parallel_workers_per_gather = 0; SET enable_hashjoin = off; SET enable_nestloop = off; SET work_mem = '64kB';
SELECT n, same, uses_node, nrows FROM (VALUES
  (29, 'SELECT a.id, b.id FROM dt_a a JOIN dt_m b ON a.k = b.k'),
  (30, 'SELECT a.k, b.v FROM dt_a a JOIN dt_m b ON a.k = b.k WHERE a.id < 20'),
  (31, 'SELECT a.id, b.id FROM dt_a a LEFT JOIN dt_m b ON a.k = b.k WHERE a.id < 30'),
  (32, 'SELECT a.id, b.id FROM dt_a a FULL JOIN dt_m b ON a.id = b.id'),
  (33, 'SELECT a.t, b.t FROM dt_a a JOIN dt_m b ON a.t = b.t'),
  (34, 'SELECT a.id, b.id FROM dt_a a JOIN dt_m b ON a.v = b.v'),
  (35, 'SELECT a.id FROM dt_a a WHERE a.k IN (SELECT k FROM dt_m WHERE id < 10)'),
  (36, 'SELECT a.id, c.id FROM dt_a a JOIN dt_c c ON a.k = c.k AND a.id < c.id')
) v(n, q), LATERAL pm_diff(q) ORDER BY n;

-- subplans, initplans, lateral, aggregates, types, writes: hash and merge joins off
RESET ALL; SET max_parallel_workers_per_gather = 0; SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT n, same, uses_node, nrows FROM (VALUES
  (37, 'SELECT id FROM dt_a WHERE id < ALL (SELECT id * 3 FROM dt_b WHERE k = 2)'),
  (38, 'SELECT id FROM dt_a WHERE id <> ALL (SELECT id FROM dt_b WHERE v IS NULL)'),
  (39, 'SELECT id FROM dt_a WHERE v > ANY (SELECT v * 9 FROM dt_b WHERE k = 1)'),
  (40, 'SELECT id, id < ALL (SELECT id FROM dt_c WHERE k = 3) AS flag FROM dt_a'),
  (41, 'SELECT id FROM dt_a WHERE t < ALL (SELECT t FROM dt_b WHERE k = 4)'),
  (42, 'SELECT id FROM dt_a a WHERE a.id < ALL (SELECT b.id FROM dt_b b WHERE b.k = a.k)'),
  (43, 'SELECT a.id, (SELECT max(b.id) FROM dt_b b JOIN dt_c c ON b.id < c.id WHERE b.k = a.k AND c.id < 30) FROM dt_a a WHERE a.id < 25'),
  (44, 'SELECT id FROM dt_a WHERE id = (SELECT max(b.id) FROM dt_b b JOIN dt_c c ON b.id > c.id + 100)'),
  (45, 'SELECT (SELECT count(*) FROM dt_a a JOIN dt_b b ON a.id < b.id) AS n'),
  (46, 'SELECT id FROM dt_a WHERE v > (SELECT avg(a.v) FROM dt_a a JOIN dt_c c ON a.id < c.id)'),
  (47, 'SELECT a.id, s.n FROM dt_a a, LATERAL (SELECT count(*) n FROM dt_b b JOIN dt_c c ON b.id < c.id WHERE b.k = a.k AND c.k = a.k) s WHERE a.id < 15'),
  (48, 'SELECT a.id, s.m FROM dt_a a, LATERAL (SELECT max(b.v) m FROM dt_b b JOIN dt_c c ON b.id > c.id WHERE c.id = a.id) s WHERE a.id < 40'),
  (49, 'SELECT a.k, b.k, count(*), sum(b.v) FROM dt_a a JOIN dt_b b ON a.id < b.id GROUP BY ROLLUP (a.k, b.k)'),
  (50, 'SELECT DISTINCT a.k, b.k FROM dt_a a JOIN dt_b b ON a.id < b.id'),
  (51, 'SELECT string_agg(b.t, '','' ORDER BY b.t) FROM dt_a a JOIN dt_b b ON a.id = b.id - 100 AND a.id < b.id'),
  (52, 'SELECT a.id, b.id, row_number() OVER (PARTITION BY a.id ORDER BY b.id) FROM dt_a a JOIN dt_b b ON a.id < b.id AND a.id > 285'),
  (53, 'SELECT a.id, b.d FROM dt_a a JOIN dt_b b ON a.d < b.d AND a.id < 10'),
  (54, 'SELECT a.id, b.n FROM dt_a a JOIN dt_b b ON a.n < b.n AND a.id < 10'),
  (55, 'SELECT a.id, b.big FROM dt_a a JOIN dt_b b ON length(b.big) > a.id * 10 AND a.id < 8'),
  (56, 'SELECT a.id FROM dt_a a JOIN dt_b b ON a.j = b.j')
) v(n, q), LATERAL pm_diff(q) ORDER BY n;

-- a large result and a small memory limit: spilled pages must read back identically
SET parallel_material.memory_limit = '64kB';
SELECT same, uses_node, nrows FROM pm_diff('SELECT a.id, b.id, b.big FROM dt_a a JOIN dt_b b ON a.id < b.id AND a.id > 250');
RESET ALL;
DROP FUNCTION pm_diff(text);
DROP TABLE dt_a, dt_b, dt_c, dt_empty, dt_scratch, dt_m;
