-- views_plan_cache: the per-backend prepared plans of maintenance statements (docs/views.md,
-- "Plan cache") stay exact when what the view reads changes: drop_view + create_view of another
-- query under the same name, renames of columns and tables (the plans' text names them as they
-- were), columns added and dropped, DDL rolled back, inputs dropped and made again with other
-- types. Each block runs several single-row writes (the first prepares, the next ones run the
-- kept plans), then view_check.
CREATE FUNCTION pg_temp.chk(v regclass) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(side || ' ' || copies || 'x ' || row_text, '; ' ORDER BY row_text, side), 'exact')
      FROM parallel_material.view_check(v) $$;
CREATE TABLE pa (id int PRIMARY KEY, k int, v int);
CREATE TABLE pb (k int PRIMARY KEY, w int, name text);
INSERT INTO pb SELECT g, g * 10, 'b' || g FROM generate_series(1, 10) g;
INSERT INTO pa SELECT g, g % 10 + 1, g FROM generate_series(1, 30) g;
SELECT parallel_material.create_view('pv',
  $$SELECT a.id, a.v, b.w FROM pa a JOIN pb b ON a.k = b.k WHERE b.w > 20$$);
INSERT INTO pa VALUES (101, 5, 1);
INSERT INTO pa VALUES (102, 6, 2);
INSERT INTO pa VALUES (103, 7, 3);
UPDATE pa SET v = v + 1 WHERE id = 101;
UPDATE pa SET v = v + 1 WHERE id = 103;
DELETE FROM pa WHERE id = 102;
UPDATE pb SET w = w + 1 WHERE k = 5;
UPDATE pb SET w = w + 1 WHERE k = 6;
SELECT pg_temp.chk('pv'), count(*) FROM pv;

-- another query under the same name (a new view id; the old one's plans must not be used)
SELECT parallel_material.drop_view('pv');
SELECT parallel_material.create_view('pv',
  $$SELECT b.name, a.id * 2 AS id2 FROM pa a JOIN pb b ON a.k = b.k WHERE a.v < 20$$);
INSERT INTO pa VALUES (104, 7, 3);
INSERT INTO pa VALUES (105, 8, 30);
INSERT INTO pa VALUES (106, 9, 4);
SELECT pg_temp.chk('pv'), count(*) FROM pv;
SELECT * FROM pv WHERE id2 > 200 ORDER BY id2;

-- a column the view reads renamed in the probed input: the plans' text must be made again
ALTER TABLE pb RENAME COLUMN name TO bname;
INSERT INTO pa VALUES (107, 9, 4);
INSERT INTO pa VALUES (108, 2, 5);
SELECT pg_temp.chk('pv'), count(*) FROM pv;
-- the written input's column and the table itself renamed
ALTER TABLE pa RENAME COLUMN v TO v2;
ALTER TABLE pa RENAME TO pa2;
INSERT INTO pa2 VALUES (109, 3, 5);
INSERT INTO pa2 VALUES (110, 3, 6);
UPDATE pa2 SET v2 = 1 WHERE id = 109;
UPDATE pa2 SET v2 = 50 WHERE id = 110;
SELECT pg_temp.chk('pv'), count(*) FROM pv;
-- DDL inside the writing transaction, then rolled back
BEGIN;
ALTER TABLE pb RENAME COLUMN bname TO bname2;
INSERT INTO pa2 VALUES (111, 4, 6);
INSERT INTO pa2 VALUES (112, 4, 7);
SELECT pg_temp.chk('pv'), count(*) FROM pv;
ROLLBACK;
INSERT INTO pa2 VALUES (111, 4, 6);
INSERT INTO pa2 VALUES (112, 4, 7);
SELECT pg_temp.chk('pv'), count(*) FROM pv;
-- columns the view does not read added and dropped
ALTER TABLE pa2 ADD COLUMN extra text DEFAULT 'x';
INSERT INTO pa2 VALUES (113, 5, 7, 'y');
ALTER TABLE pb ADD COLUMN z int;
INSERT INTO pb VALUES (11, 110, 'b11', 1);
ALTER TABLE pb DROP COLUMN z;
INSERT INTO pb VALUES (12, 120, 'b12');
INSERT INTO pa2 VALUES (114, 11, 7, 'z');
INSERT INTO pa2 VALUES (115, 12, 8, 'z');
SELECT pg_temp.chk('pv'), count(*) FROM pv;
-- the cache off: the same results
SET parallel_material.view_plan_cache = off;
INSERT INTO pa2 VALUES (116, 12, 9);
DELETE FROM pa2 WHERE id = 115;
RESET parallel_material.view_plan_cache;
INSERT INTO pa2 VALUES (117, 12, 9);
SELECT pg_temp.chk('pv'), count(*) FROM pv;

-- inputs dropped and made again under the same names with other column types
SELECT parallel_material.drop_view('pv');
DROP TABLE pa2, pb;
CREATE TABLE pa (id bigint PRIMARY KEY, k text, v numeric);
CREATE TABLE pb (k text PRIMARY KEY, w numeric, name text);
INSERT INTO pb SELECT g::text, g * 1.5, 'b' || g FROM generate_series(1, 10) g;
INSERT INTO pa SELECT g, (g % 10 + 1)::text, g / 4.0 FROM generate_series(1, 30) g;
SELECT parallel_material.create_view('pv',
  $$SELECT a.id, b.name, a.v + b.w AS vw FROM pa a JOIN pb b ON a.k = b.k WHERE a.v > 1$$);
INSERT INTO pa VALUES (101, '5', 1.25);
INSERT INTO pa VALUES (102, '6', 2.50);
INSERT INTO pa VALUES (103, '7', 3.75);
UPDATE pa SET v = 0 WHERE id = 102;
SELECT pg_temp.chk('pv'), count(*) FROM pv;
SELECT * FROM pv WHERE id > 100 ORDER BY id;
SELECT parallel_material.drop_view('pv');
DROP TABLE pa, pb;

-- Aggregate views: the grouping and apply statements run through the cache for small deltas
-- (one plan per nullability of the delta's group keys), also after the view table is renamed.
CREATE TABLE qa (id int PRIMARY KEY, k int, g int, v numeric);
CREATE TABLE qb (k int PRIMARY KEY, w int);
INSERT INTO qb SELECT g, g * 10 FROM generate_series(1, 5) g;
INSERT INTO qa SELECT g, g % 5 + 1, g % 3, g FROM generate_series(1, 20) g;
SELECT parallel_material.create_view('qv',
  $$SELECT a.g, b.w, count(*) AS n, sum(a.v) AS s, max(a.v) AS mx
      FROM qa a JOIN qb b ON a.k = b.k GROUP BY a.g, b.w$$);
INSERT INTO qa VALUES (101, 1, 1, 5);
INSERT INTO qa VALUES (102, 2, NULL, 6);
INSERT INTO qa VALUES (103, 2, NULL, 7);
INSERT INTO qa VALUES (104, 3, 2, 8);
UPDATE qa SET v = v + 100 WHERE id = 101;
DELETE FROM qa WHERE id = 103;
DELETE FROM qa WHERE id = 102;
UPDATE qa SET g = NULL WHERE id = 104;
SELECT pg_temp.chk('qv'), count(*) FROM qv;
ALTER TABLE qv RENAME TO qv2;
INSERT INTO qa VALUES (105, 3, 2, 9);
INSERT INTO qa VALUES (106, 3, NULL, 10);
DELETE FROM qa WHERE id = 105;
SELECT pg_temp.chk('qv2'), count(*) FROM qv2;
SELECT * FROM qv2 WHERE g IS NULL OR g = 2 ORDER BY g, w;
SELECT parallel_material.drop_view('qv2');

-- The settings maintenance pins, some already at their pinned values in the writer's session:
-- only the others are set for the run (none when all are), and the view still equals its query.
SELECT parallel_material.create_view('qf',
  $$SELECT a.id, (a.v::float8 / 3)::text AS ftext, b.w FROM qa a JOIN qb b ON a.k = b.k$$);
SET search_path = pg_catalog, pg_temp;
SET extra_float_digits = -3;
INSERT INTO public.qa VALUES (201, 1, 0, 1);
INSERT INTO public.qa VALUES (202, 2, 0, 2);
SET extra_float_digits = 1;
INSERT INTO public.qa VALUES (203, 3, 0, 4);
UPDATE public.qa SET v = 5 WHERE id = 201;
RESET ALL;
SELECT pg_temp.chk('qf'), count(*) FROM qf;
SELECT * FROM qf WHERE id > 200 ORDER BY id;
SELECT parallel_material.drop_view('qf');
DROP TABLE qa, qb;
