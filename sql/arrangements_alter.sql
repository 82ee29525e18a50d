-- arrangements_alter: ALTER TABLE on arranged columns. A type (or collation) change invalidates
-- the arrangements holding the column, which rebuild on their next use with the new type (also
-- when the heap is not rewritten); a key column changed to a type an arrangement cannot hold
-- fails the ALTER; dropping an arranged column drops the arrangements holding it (as it drops
-- indexes on it), with their triggers; a rolled back ALTER leaves them as they were.
CREATE TABLE at1 (id int, k int, v varchar(10), w text, z varchar(5));
CREATE TABLE aq (k int);
INSERT INTO at1 SELECT g, g % 50, 'v' || g, 'w' || g, 'z' FROM generate_series(1, 5000) g;
INSERT INTO aq SELECT g FROM generate_series(1, 5) g;
ANALYZE at1, aq;
SELECT parallel_material.create_arrangement('at1', '{k}', '{id, v}');
SELECT parallel_material.create_arrangement('at1', '{id}', '{w}');
CREATE FUNCTION pg_temp.states() RETURNS TABLE (key text[], state text) LANGUAGE sql AS
  $$SELECT key, state FROM parallel_material.arrangements WHERE relation = 'at1'::regclass ORDER BY key$$;
EXPLAIN (COSTS OFF) SELECT at1.id, at1.v FROM aq JOIN at1 ON at1.k = aq.k;

-- a type change that does not rewrite the heap (varchar(10) -> varchar(20)): invalidated, so
-- not planned on, then rebuilt by the next reader and exact
SELECT relfilenode AS before FROM pg_class WHERE relname = 'at1' \gset
ALTER TABLE at1 ALTER COLUMN v TYPE varchar(20);
SELECT relfilenode = :before AS not_rewritten FROM pg_class WHERE relname = 'at1';
SELECT * FROM pg_temp.states();
EXPLAIN (COSTS OFF) SELECT at1.id, at1.v FROM aq JOIN at1 ON at1.k = aq.k;
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{k}');   -- rebuilds it
SELECT * FROM pg_temp.states();
SELECT at1.id, at1.v FROM aq JOIN at1 ON at1.k = aq.k WHERE at1.id < 200 ORDER BY 1;
-- a column no arrangement holds (no rewrite either): nothing changes
ALTER TABLE at1 ALTER COLUMN z TYPE varchar(9);
SELECT * FROM pg_temp.states();

-- the key's type changes to another one an arrangement can hold (int -> bigint): invalidated,
-- rebuilt with bigint keys; the join probes with bigint keys
ALTER TABLE at1 ALTER COLUMN k TYPE bigint;
SELECT * FROM pg_temp.states();
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{k}');
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{id}');
ALTER TABLE aq ALTER COLUMN k TYPE bigint;
ANALYZE aq;
EXPLAIN (COSTS OFF) SELECT at1.id, at1.v FROM aq JOIN at1 ON at1.k = aq.k;
SELECT count(*), sum(at1.id) FROM aq JOIN at1 ON at1.k = aq.k;

-- a key type an arrangement cannot hold: the ALTER fails, nothing changes
ALTER TABLE at1 ALTER COLUMN k TYPE numeric;
ALTER TABLE at1 ALTER COLUMN id TYPE float8;
SELECT * FROM pg_temp.states();
-- a text key whose collation becomes nondeterministic (no heap rewrite): refused too
SELECT parallel_material.create_arrangement('at1', '{w}', '{id}');
CREATE COLLATION arr_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
ALTER TABLE at1 ALTER COLUMN w TYPE text COLLATE arr_ci;
-- a deterministic one is fine (invalidates the arrangements holding w)
ALTER TABLE at1 ALTER COLUMN w TYPE text COLLATE "C";
SELECT * FROM pg_temp.states();
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{w}');
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{id}');
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{k}');

-- dropping an arranged column in a transaction that rolls back: the arrangements stay
BEGIN;
ALTER TABLE at1 DROP COLUMN w;
SELECT * FROM pg_temp.states();
ROLLBACK;
SELECT * FROM pg_temp.states();
SELECT count(*) FROM parallel_material.arrangement_check('at1', '{w}');
-- dropping a non-key arranged column drops the arrangement holding it, with its triggers
ALTER TABLE at1 DROP COLUMN v;
SELECT * FROM pg_temp.states();
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'at1'::regclass;
EXPLAIN (COSTS OFF) SELECT at1.id FROM aq JOIN at1 ON at1.k = aq.k;
SELECT count(*) FROM aq JOIN at1 ON at1.k = aq.k;
-- dropping a key column drops its arrangement; the others holding the column too
ALTER TABLE at1 DROP COLUMN id;
SELECT * FROM pg_temp.states();
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'at1'::regclass;
INSERT INTO at1 (k, w) VALUES (1, 'after');   -- writes go on

-- an ALTER on a partitioned parent reaches an arranged partition
CREATE TABLE app (id int, k int, v varchar(10)) PARTITION BY RANGE (id);
CREATE TABLE app1 PARTITION OF app FOR VALUES FROM (0) TO (100);
INSERT INTO app SELECT g, g % 7, 'x' || g FROM generate_series(0, 99) g;
SELECT parallel_material.create_arrangement('app1', '{k}', '{v}');
ALTER TABLE app ALTER COLUMN v TYPE varchar(20);
SELECT state FROM parallel_material.arrangements WHERE relation = 'app1'::regclass;
SELECT count(*) FROM parallel_material.arrangement_check('app1');
ALTER TABLE app ALTER COLUMN k TYPE numeric;
ALTER TABLE app DROP COLUMN v;
SELECT count(*) FROM parallel_material.arrangements WHERE relation = 'app1'::regclass;
DROP TABLE app;

DROP TABLE at1, aq;
DROP COLLATION arr_ci;
SELECT count(*) AS defs_left FROM parallel_material.arrangement_defs;
