SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- attack_arr_join: issue 16, "a plain query crashes the server" and "joins that differ from
-- stock", tried as an owner role that arranges its tables and a reader role that has only SELECT.
-- Every query below returned a different result, an error or a crash before the fix (see the
-- commit message); each now returns stock's rows, through the arrangement or through the stock
-- plan / the node's fallback. pg_temp.cmp(q) runs q with parallel_material.enable_arrangement_join
-- off then on and says whether the results are the same; pg_temp.uses(q) whether the plan has an
-- ArrangementJoin node.
CREATE FUNCTION pg_temp.cmp(q text) RETURNS text LANGUAGE plpgsql AS $$
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
    RETURN CASE WHEN stock IS NOT DISTINCT FROM arr THEN 'same, ' || n || ' rows'
                ELSE 'DIFFERENT: stock ' || coalesce(stock, '(none)') || ' / arrangement ' || coalesce(arr, '(none)') END;
END $$;
CREATE FUNCTION pg_temp.uses(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF l LIKE '%ArrangementJoin%' THEN RETURN true; END IF;
    END LOOP;
    RETURN false;
END $$;
-- The fallback the node runs when it may not read the arrangement (shown by EXPLAIN ANALYZE).
CREATE FUNCTION pg_temp.fallback(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF l LIKE '%Fallback:%' THEN RETURN trim(l); END IF;
    END LOOP;
    RETURN 'no fallback';
END $$;

CREATE ROLE arr_attack_owner LOGIN;
CREATE ROLE arr_attack_reader LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO arr_attack_owner;
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE o (k int, note text);
CREATE TABLE customer (c_custkey int, c_name text, c_bal int);
INSERT INTO o SELECT g, 'n' || g FROM generate_series(1, 6) g;
INSERT INTO customer SELECT g, 'c' || g, g * 10 FROM generate_series(1, 2000) g;
INSERT INTO customer SELECT g, 'dup' || g, -g FROM generate_series(1, 3) g;
ANALYZE o, customer;
SELECT parallel_material.create_arrangement('customer', '{c_custkey}');
GRANT SELECT ON o, customer TO arr_attack_reader;

-- 1. The crash: a join whose target list is exactly the node's scan tuple (no projection).
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT * FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT * FROM o JOIN customer c ON c.c_custkey = o.k ORDER BY 1, 4;
SELECT pg_temp.cmp($$SELECT * FROM o JOIN customer c ON c.c_custkey = o.k$$);
-- other target lists: whole rows of either side, system columns of the arranged side,
-- expressions, subsets, nothing at all
SELECT pg_temp.cmp($$SELECT o, c FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT c.*, o.* FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT c.ctid, c.tableoid::regclass, c.xmin = c.xmin, c.c_name FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.ctid, o.k * 2 + c.c_bal, upper(c.c_name) FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT 1 FROM o JOIN customer c ON c.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT count(*) FROM o JOIN customer c ON c.c_custkey = o.k$$);
-- the unprojected row straight into an INSERT (ModifyTable materializes the node's own slot)
CREATE TEMP TABLE sink (k int, note text, c_custkey int, c_name text, c_bal int);
SET parallel_material.enable_arrangement_join = off;
INSERT INTO sink SELECT * FROM o JOIN customer c ON c.c_custkey = o.k;
RESET parallel_material.enable_arrangement_join;
SELECT pg_temp.uses($$INSERT INTO sink SELECT * FROM o JOIN customer c ON c.c_custkey = o.k$$);
INSERT INTO sink SELECT * FROM o JOIN customer c ON c.c_custkey = o.k;
SELECT s, count(*) FROM sink s GROUP BY s ORDER BY 1;
DROP TABLE sink;
RESET SESSION AUTHORIZATION;

-- 2. An arrangement on an inheritance parent answers for the parent alone; stock reads the
-- children too (ONLY reads the parent alone, and may use it).
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE ip (c_custkey int, c_name text);
INSERT INTO ip SELECT g, 'parent' || g FROM generate_series(1, 2000) g;
CREATE TABLE ic (extra int) INHERITS (ip);
INSERT INTO ic SELECT g, 'child' || g, 0 FROM generate_series(1, 10) g;
ANALYZE ip, ic;
SELECT parallel_material.create_arrangement('ip', '{c_custkey}');
GRANT SELECT ON ip, ic TO arr_attack_reader;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, p.c_name FROM o JOIN ip p ON p.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, p.c_name FROM o JOIN ip p ON p.c_custkey = o.k$$);
SELECT pg_temp.uses($$SELECT o.k, p.c_name FROM o JOIN ONLY ip p ON p.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, p.c_name FROM o JOIN ONLY ip p ON p.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;

-- 3. Maintenance off: triggers disabled (all of them, or ours by name), enabled again after
-- missed writes, or dropped. The reader must get stock's rows each time.
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE t3 (c_custkey int, c_name text);
INSERT INTO t3 SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ANALYZE t3;
SELECT parallel_material.create_arrangement('t3', '{c_custkey}');
GRANT SELECT ON t3 TO arr_attack_reader;
SELECT tgname AS trg FROM pg_trigger WHERE tgrelid = 't3'::regclass AND tgname NOT LIKE '%truncate' \gset
ALTER TABLE t3 DISABLE TRIGGER ALL;
INSERT INTO t3 VALUES (1, 'missed');
DELETE FROM t3 WHERE c_custkey = 2;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, t3.c_name FROM o JOIN t3 ON t3.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t3.c_name FROM o JOIN t3 ON t3.c_custkey = o.k$$);
SET SESSION AUTHORIZATION arr_attack_owner;
ALTER TABLE t3 ENABLE TRIGGER ALL;
SET SESSION AUTHORIZATION arr_attack_reader;
-- enabled again, but the writes made meanwhile are not in the arrangement
SELECT pg_temp.uses($$SELECT o.k, t3.c_name FROM o JOIN t3 ON t3.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t3.c_name FROM o JOIN t3 ON t3.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
-- ours alone, by name; then session_replication_role = replica with the trigger enabled ORIGIN
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE t4 (c_custkey int, c_name text);
INSERT INTO t4 SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ANALYZE t4;
SELECT parallel_material.create_arrangement('t4', '{c_custkey}');
GRANT SELECT ON t4 TO arr_attack_reader;
SELECT tgname AS trg4 FROM pg_trigger WHERE tgrelid = 't4'::regclass AND tgname NOT LIKE '%truncate' \gset
ALTER TABLE t4 DISABLE TRIGGER :"trg4";
UPDATE t4 SET c_name = 'missed' WHERE c_custkey = 3;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, t4.c_name FROM o JOIN t4 ON t4.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t4.c_name FROM o JOIN t4 ON t4.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE t5 (c_custkey int, c_name text);
INSERT INTO t5 SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ANALYZE t5;
SELECT parallel_material.create_arrangement('t5', '{c_custkey}');
GRANT SELECT ON t5 TO arr_attack_reader;
SELECT tgname AS trg5 FROM pg_trigger WHERE tgrelid = 't5'::regclass AND tgname NOT LIKE '%truncate' \gset
ALTER TABLE t5 ENABLE TRIGGER :"trg5";
RESET SESSION AUTHORIZATION;
SET session_replication_role = replica;
INSERT INTO t5 VALUES (4, 'replicated');
RESET session_replication_role;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, t5.c_name FROM o JOIN t5 ON t5.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t5.c_name FROM o JOIN t5 ON t5.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
-- dropped
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE t6 (c_custkey int, c_name text);
INSERT INTO t6 SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ANALYZE t6;
SELECT parallel_material.create_arrangement('t6', '{c_custkey}');
GRANT SELECT ON t6 TO arr_attack_reader;
SELECT tgname AS trg6 FROM pg_trigger WHERE tgrelid = 't6'::regclass AND tgname NOT LIKE '%truncate' \gset
RESET SESSION AUTHORIZATION;
DROP TRIGGER :"trg6" ON t6;
SET SESSION AUTHORIZATION arr_attack_owner;
INSERT INTO t6 VALUES (5, 'missed');
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, t6.c_name FROM o JOIN t6 ON t6.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t6.c_name FROM o JOIN t6 ON t6.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
-- a plan made while the triggers were enabled, run after they were disabled (a prepared
-- statement is replanned; the node also checks at its start)
SET SESSION AUTHORIZATION arr_attack_owner;
PREPARE q7 AS SELECT o.k, c.c_name FROM o JOIN customer c ON c.c_custkey = o.k ORDER BY 1, 2;
EXECUTE q7;
ALTER TABLE customer DISABLE TRIGGER ALL;
UPDATE customer SET c_name = 'missed' WHERE c_custkey = 6;
EXECUTE q7;
ALTER TABLE customer ENABLE TRIGGER ALL;
DEALLOCATE q7;
RESET SESSION AUTHORIZATION;

-- 4. Code running inside the statement that writes the arranged table sees the statement's
-- earlier rows, as stock does: a volatile function in INSERT ... SELECT, and a row trigger.
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TABLE t8 (c_custkey int, c_name text);
INSERT INTO t8 SELECT g, 'v' || g FROM generate_series(1, 2000) g;
ANALYZE t8;
SELECT parallel_material.create_arrangement('t8', '{c_custkey}');
CREATE TABLE q8 (k int);
INSERT INTO q8 SELECT g FROM generate_series(2999, 3004) g;
ANALYZE q8;
CREATE FUNCTION seen8() RETURNS text LANGUAGE sql VOLATILE AS
  $$SELECT string_agg(t8.c_custkey::text, ',' ORDER BY t8.c_custkey) FROM q8 JOIN t8 ON t8.c_custkey = q8.k$$;
SELECT pg_temp.uses($$SELECT t8.c_custkey FROM q8 JOIN t8 ON t8.c_custkey = q8.k$$);
BEGIN;
SET LOCAL parallel_material.enable_arrangement_join = off;
INSERT INTO t8 SELECT g, seen8() FROM generate_series(3000, 3003) g RETURNING *;
ROLLBACK;
BEGIN;
INSERT INTO t8 SELECT g, seen8() FROM generate_series(3000, 3003) g RETURNING *;
ROLLBACK;
-- the node's fallback served the rows written before (planned on the arrangement, whose
-- maintenance of those rows is still queued)
BEGIN;
INSERT INTO t8 SELECT g, pg_temp.fallback($$SELECT t8.c_custkey FROM q8 JOIN t8 ON t8.c_custkey = q8.k$$)
  FROM generate_series(3000, 3001) g RETURNING *;
ROLLBACK;
-- a row trigger on the arranged table, firing before the maintenance trigger
CREATE TABLE log8 (k int, seen text);
CREATE FUNCTION log8() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO log8 VALUES (NEW.c_custkey, seen8()); RETURN NULL; END$$;
CREATE TRIGGER a_log8 AFTER INSERT ON t8 FOR EACH ROW EXECUTE FUNCTION log8();
BEGIN;
SET LOCAL parallel_material.enable_arrangement_join = off;
INSERT INTO t8 SELECT g, 'x' FROM generate_series(3000, 3003) g;
SELECT * FROM log8 ORDER BY k;
ROLLBACK;
BEGIN;
INSERT INTO t8 SELECT g, 'x' FROM generate_series(3000, 3003) g;
SELECT * FROM log8 ORDER BY k;
ROLLBACK;
RESET SESSION AUTHORIZATION;

-- 5. A typed table whose type loses an attribute: ALTER TYPE ... DROP ATTRIBUTE ... CASCADE
-- drops the column without the ALTER TABLE event triggers (the arrangement holding it stays
-- ready until a write); the one not holding it is still exact.
SET SESSION AUTHORIZATION arr_attack_owner;
CREATE TYPE ct9 AS (c_custkey int, c_name text, c_gone text);
CREATE TABLE t9 OF ct9;
INSERT INTO t9 SELECT g, 'n' || g, 'g' || g FROM generate_series(1, 2000) g;
ANALYZE t9;
SELECT parallel_material.create_arrangement('t9', '{c_custkey}', '{c_name}');
SELECT parallel_material.create_arrangement('t9', '{c_name}');
GRANT SELECT ON t9 TO arr_attack_reader;
ALTER TYPE ct9 DROP ATTRIBUTE c_gone CASCADE;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.uses($$SELECT o.k, t9.c_custkey FROM o JOIN t9 ON t9.c_name = o.note$$);
SELECT pg_temp.cmp($$SELECT o.k, t9.c_custkey FROM o JOIN t9 ON t9.c_name = o.note$$);
SELECT pg_temp.cmp($$SELECT o.k, t9 FROM o JOIN t9 ON t9.c_name = o.note$$);
SELECT pg_temp.uses($$SELECT o.k, t9.c_name FROM o JOIN t9 ON t9.c_custkey = o.k$$);
SELECT pg_temp.cmp($$SELECT o.k, t9.c_name FROM o JOIN t9 ON t9.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION arr_attack_owner;
SET client_min_messages = error;  -- the write invalidates the arrangement holding c_gone
INSERT INTO t9 VALUES (6, 'after');
RESET client_min_messages;
SET SESSION AUTHORIZATION arr_attack_reader;
SELECT pg_temp.cmp($$SELECT o.k, t9.c_custkey FROM o JOIN t9 ON t9.c_name = o.note$$);
SELECT pg_temp.cmp($$SELECT o.k, t9.c_name FROM o JOIN t9 ON t9.c_custkey = o.k$$);
RESET SESSION AUTHORIZATION;
DROP OWNED BY arr_attack_owner, arr_attack_reader;
DROP ROLE arr_attack_owner, arr_attack_reader;
