-- material_row_form: rows enter the log with their short non-string varlenas unpacked (an
-- aligned 4-byte header), so a rescanned inner's numeric, array, jsonb and range values are read
-- in place instead of being detoasted per comparison; strings stay packed. The rows are the same
-- rows: results equal the extension's off results for every type, NULLs, long and toasted values.
CREATE TABLE rf_outer (id int, v numeric);
CREATE TABLE rf_inner (id int, v numeric, t text, arr int[], j jsonb, r int4range, big jsonb, vc varchar(10));
INSERT INTO rf_outer SELECT g, (g * 37 % 101)::numeric / 7 FROM generate_series(1, 60) g;
INSERT INTO rf_inner SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 13 % 97)::numeric / 5 END,
       'name ' || g, ARRAY[g, g * 2], jsonb_build_object('g', g), int4range(g, g + 10),
       CASE WHEN g = 3 THEN (SELECT jsonb_agg(md5(x::text)) FROM generate_series(1, 400) x) END,
       'vc' || g
  FROM generate_series(1, 25) g;
ANALYZE rf_outer, rf_inner;
SET max_parallel_workers_per_gather = 0;
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = on;

-- The inner's stored form, seen through pg_column_size (the size of the value as read). Rows the
-- inner computes (here a projection that passes the table's values on): numeric, arrays, jsonb
-- and ranges carry a 4-byte header with the extension on (3 bytes more than stock's packed
-- form), text and varchar keep their 1-byte header. (A Material's child returns only the
-- columns its parent needs, so its scan usually projects: a computed row, as here.)
CREATE FUNCTION rf_sizes(inner_rel text, OUT kind text, OUT on_size int, OUT off_size int)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  q text := format('SELECT max(pg_column_size(i.v)) AS v, max(pg_column_size(i.arr)) AS arr,
                    max(pg_column_size(i.j)) AS j, max(pg_column_size(i.r)) AS r,
                    max(pg_column_size(i.t)) AS t, max(pg_column_size(i.vc)) AS vc
             FROM rf_outer o JOIN %s i ON o.v < i.v + 100', inner_rel);
  a record; b record;
BEGIN
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE q INTO a;
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE q INTO b;
  kind := 'numeric'; on_size := a.v; off_size := b.v; RETURN NEXT;
  kind := 'int[]'; on_size := a.arr; off_size := b.arr; RETURN NEXT;
  kind := 'jsonb'; on_size := a.j; off_size := b.j; RETURN NEXT;
  kind := 'int4range'; on_size := a.r; off_size := b.r; RETURN NEXT;
  kind := 'text'; on_size := a.t; off_size := b.t; RETURN NEXT;
  kind := 'varchar'; on_size := a.vc; off_size := b.vc; RETURN NEXT;
END $$;
SELECT * FROM rf_sizes('rf_inner');
SET parallel_material.enable = on;
-- A table row passed up whole (the child needs every column: no projection) is copied as it
-- comes, packed: re-forming every row would cost more than it saves.
CREATE TABLE rf_whole AS SELECT v FROM rf_inner;
ANALYZE rf_whole;
SELECT max(pg_column_size(i.v)) AS whole_row_size FROM rf_outer o JOIN rf_whole i ON o.v < i.v + 100;
SET parallel_material.enable = off;
SELECT max(pg_column_size(i.v)) AS whole_row_size FROM rf_outer o JOIN rf_whole i ON o.v < i.v + 100;
SET parallel_material.enable = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM rf_outer o JOIN rf_inner i ON o.v < i.v;

-- Same rows as stock, comparing every column through the rescanned inner.
CREATE FUNCTION rf_same(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE off_rows text[]; on_rows text[];
BEGIN
  PERFORM set_config('parallel_material.enable', 'off', true);
  EXECUTE format('SELECT coalesce(array_agg(r::text ORDER BY r::text), ''{}'') FROM (%s) r', q) INTO off_rows;
  PERFORM set_config('parallel_material.enable', 'on', true);
  EXECUTE format('SELECT coalesce(array_agg(r::text ORDER BY r::text), ''{}'') FROM (%s) r', q) INTO on_rows;
  RETURN off_rows IS NOT DISTINCT FROM on_rows AND cardinality(off_rows) > 0;
END $$;
SELECT n, rf_same(q) FROM (VALUES
  (1, 'SELECT o.id, i.id, i.v FROM rf_outer o JOIN rf_inner i ON o.v BETWEEN i.v - 1 AND i.v + 1'),
  (2, 'SELECT o.id, i.* FROM rf_outer o JOIN rf_inner i ON o.id = ANY(i.arr)'),
  (3, 'SELECT o.id, i.j FROM rf_outer o JOIN rf_inner i ON (i.j->>''g'')::int = o.id % 25'),
  (4, 'SELECT o.id, i.r FROM rf_outer o JOIN rf_inner i ON i.r @> o.id'),
  (5, 'SELECT o.id, i.t, i.vc FROM rf_outer o JOIN rf_inner i ON i.t > ''name '' || o.id'),
  (6, 'SELECT o.id, jsonb_array_length(i.big), md5(i.big::text) FROM rf_outer o JOIN rf_inner i ON i.big IS NOT NULL AND o.id < i.id + 3'),
  (7, 'SELECT o.id FROM rf_outer o WHERE o.v < ALL (SELECT v * 3 FROM rf_inner WHERE v IS NOT NULL)'),
  (8, 'SELECT o.id, i.id FROM rf_outer o LEFT JOIN rf_inner i ON o.v < i.v AND i.v IS NULL')
) v(n, q) ORDER BY n;
RESET ALL;
DROP FUNCTION rf_sizes(text), rf_same(text);
DROP TABLE rf_outer, rf_inner, rf_whole;
