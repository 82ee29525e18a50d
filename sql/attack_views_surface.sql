-- attack_views_surface: maintained views (docs/views.md, "Security") attacked by LOGIN roles:
-- an owner, a writer (INSERT/UPDATE/DELETE on one input, nothing on the other), a reader
-- (SELECT on the view table only) and a stranger (nothing). Every SQL function with hostile
-- arguments gives a clean error; maintenance runs as the view's owner and computes the same rows
-- whatever the writer's settings or search_path; refresh_view runs a hostile owner's functions
-- as that owner, never as the superuser calling it; direct writes and DDL on the view table give
-- clean errors or an exact view. The postmaster start time is unchanged at the end (no crash).
-- err() returns "SQLSTATE: message", digits masked.
SELECT pg_postmaster_start_time() AS started \gset
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || left(regexp_replace(SQLERRM, '[0-9]+', 'N', 'g'), 100);
END $$;
CREATE ROLE attack_views_owner LOGIN;
CREATE ROLE attack_views_writer LOGIN;
CREATE ROLE attack_views_reader LOGIN;
CREATE ROLE attack_views_stranger LOGIN;
GRANT USAGE, CREATE ON SCHEMA public
   TO attack_views_owner, attack_views_writer, attack_views_reader, attack_views_stranger;

SET SESSION AUTHORIZATION attack_views_owner;
CREATE TABLE av_o (ok int PRIMARY KEY, ck int, secret text);
CREATE TABLE av_l (lk int, ok int, price float8, data bytea, note text);
INSERT INTO av_o SELECT g, g % 5, 'secret ' || g FROM generate_series(1, 10) g;
INSERT INTO av_l SELECT g, g % 10 + 1, g / 3.0, '\x01ff', 'n' || g FROM generate_series(1, 20) g;
-- float8, bytea and a literal with a backslash, all through immutable output functions
SELECT parallel_material.create_view('av_v', $$
  SELECT l.lk, o.ok, o.secret, l.price::text AS ptext, l.data::text AS dtext,
         l.note || 'a\b' AS ntext
    FROM av_l l JOIN av_o o ON l.ok = o.ok $$);
GRANT SELECT, INSERT, UPDATE, DELETE ON av_l TO attack_views_writer;  -- nothing on av_o
-- outputs that read DateStyle, IntervalStyle or TimeZone (stable output functions): refused
SELECT pg_temp.err($$SELECT parallel_material.create_view('av_bad', 'SELECT l.lk, (date ''2020-01-01'' + o.ok)::text AS d FROM av_l l JOIN av_o o ON l.ok = o.ok')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('av_bad', 'SELECT l.lk, (timestamptz ''2020-01-01'' + o.ok * interval ''1h'')::text AS d FROM av_l l JOIN av_o o ON l.ok = o.ok')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('av_bad', 'SELECT l.lk, (o.ok * interval ''1h'')::text AS d FROM av_l l JOIN av_o o ON l.ok = o.ok')$$);
-- a hostile but valid name: quoted everywhere maintenance names it
SELECT parallel_material.create_view('"av we""ird; DROP TABLE av_o; --"', $$
  SELECT l.lk, o.ok FROM av_l l JOIN av_o o ON l.ok = o.ok $$);
GRANT SELECT ON "av we""ird; DROP TABLE av_o; --" TO attack_views_reader;
-- a temporary table of the view's name (pg_temp comes first on the path) is not taken for the
-- view table: before, the view bound to the temporary table, which other sessions cannot write
CREATE TEMP TABLE av_shadow (x int);
SELECT parallel_material.create_view('av_shadow', $$
  SELECT l.lk, o.ok FROM av_l l JOIN av_o o ON l.ok = o.ok $$);
SELECT (SELECT count(*) FROM pg_temp.av_shadow) AS temp_rows,
       (SELECT count(*) > 0 FROM public.av_shadow) AS view_filled;
SELECT * FROM parallel_material.view_check('public.av_shadow');
DROP TABLE pg_temp.av_shadow;
SELECT parallel_material.drop_view('av_shadow');
GRANT SELECT ON av_v TO attack_views_reader;
RESET SESSION AUTHORIZATION;

-- 1. The surface, called by the stranger with hostile arguments.
SET SESSION AUTHORIZATION attack_views_stranger;
CREATE TEMP TABLE av_tt (ok int);
CREATE TABLE av_mine (ok int, x int);
SELECT q, pg_temp.err(q) FROM (VALUES
 ($$SELECT parallel_material.create_view(NULL, 'SELECT 1')$$),
 ($$SELECT parallel_material.create_view('x', NULL)$$),
 ($$SELECT parallel_material.create_view('x', 'SELECT m.ok, o.ck FROM av_mine m JOIN av_o o ON m.ok = o.ok')$$),
 ($$SELECT parallel_material.create_view('x', 'SELECT m.ok, t.ok AS ok2 FROM av_mine m JOIN av_tt t ON m.ok = t.ok')$$),
 ($$SELECT parallel_material.create_view('x', 'SELECT m.ok, c.oid FROM av_mine m JOIN pg_class c ON m.ok = c.relnatts')$$),
 ($$SELECT parallel_material.create_view('x', 'SELECT 1; DROP TABLE av_mine')$$),
 ($$SELECT parallel_material.create_view('x', 'DROP TABLE av_mine')$$),
 ($$SELECT parallel_material.create_view('x', 'DELETE FROM av_mine RETURNING *')$$),
 ($$SELECT parallel_material.create_view('x', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok; DROP TABLE av_mine')$$),
 ($$SELECT parallel_material.create_view('x; DROP TABLE av_mine', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.create_view('pg_catalog.x', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.create_view('a.b.c.d', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.create_view('', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.create_view('av_v', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.create_view('x', '')$$),
 -- a temporary view table would make every other session's write of an input fail
 ($$SELECT parallel_material.create_view('pg_temp.x', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$),
 ($$SELECT parallel_material.drop_view('av_v')$$),
 ($$SELECT parallel_material.drop_view('av_mine')$$),
 ($$SELECT parallel_material.drop_view('pg_class')$$),
 ($$SELECT parallel_material.drop_view(0)$$),
 ($$SELECT parallel_material.drop_view('av_tt')$$),
 ($$SELECT parallel_material.refresh_view('av_v')$$),
 ($$SELECT parallel_material.refresh_view('pg_class')$$),
 ($$SELECT parallel_material.refresh_view(0)$$),
 ($$SELECT parallel_material.view_query('pg_class')$$),
 ($$SELECT parallel_material.view_query(0)$$),
 ($$SELECT * FROM parallel_material.view_check('av_v')$$),
 ($$SELECT * FROM parallel_material.view_check('av_tt')$$),
 ($$SELECT * FROM parallel_material.view_check('pg_authid')$$),
 ($$SELECT * FROM parallel_material.view_check(0)$$),
 ($$SELECT * FROM av_v$$),
 ($$SELECT parallel_material._view_trigger()$$),
 ($$CREATE TRIGGER pm_view_1_ai AFTER INSERT ON av_mine FOR EACH STATEMENT EXECUTE FUNCTION parallel_material._view_trigger('1')$$),
 ($$INSERT INTO parallel_material.view_defs SELECT * FROM parallel_material.view_defs$$),
 ($$UPDATE parallel_material.view_defs SET viewrel = 0$$),
 ($$DELETE FROM parallel_material.view_defs$$),
 ($$SELECT nextval('parallel_material.view_id_seq')$$),
 ($$SET parallel_material.debug_view_explain = on$$),
 ($$DROP TABLE av_v$$),
 ($$ALTER TABLE av_v RENAME TO w$$),
 ($$TRUNCATE av_v$$),
 ($$SELECT parallel_material.drop_arrangement('av_o', '{ok}')$$)
) t(q);
-- long names and huge queries: clean, whichever way they end
SELECT pg_temp.err($$SELECT parallel_material.create_view(repeat('n', 10000), 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok')$$);
SELECT pg_temp.err($$SELECT parallel_material.create_view('x', 'SELECT a.ok, b.x FROM av_mine a JOIN av_mine b ON a.ok = b.ok ' || repeat(' AND a.ok = b.ok', 20000))$$);
-- what the stranger sees: definitions (as pg_views shows them to everyone), never rows
SELECT name, rows, definition LIKE '%av_l l JOIN av_o o%' AS definition_shown
  FROM parallel_material.views WHERE name = 'av_v'::regclass;
SELECT parallel_material.view_rows('av_v') AS rows, parallel_material.view_rows('pg_authid') AS authid_rows;
RESET SESSION AUTHORIZATION;

-- 2. The writer: may write av_l, may read neither av_o nor the view; maintains it anyway.
--    Hostile settings and search_path: the view still equals its query (under the settings
--    maintenance pins); before pinning them, extra_float_digits, bytea_output and
--    standard_conforming_strings changed the rows the writer's maintenance stored.
CREATE SCHEMA av_writer_s AUTHORIZATION attack_views_writer;
CREATE SCHEMA av_stranger_s AUTHORIZATION attack_views_stranger;
SET SESSION AUTHORIZATION attack_views_writer;
CREATE FUNCTION av_writer_s.yes(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR av_writer_s.= (LEFTARG = int, RIGHTARG = int, FUNCTION = av_writer_s.yes);
CREATE TEMP TABLE av_o (ok int, ck int, secret text);
INSERT INTO av_o VALUES (1, 1, 'planted');
CREATE FUNCTION pg_temp.textcat(text, text) RETURNS text LANGUAGE sql AS 'SELECT ''planted''';
-- a first insert under the defaults (this backend caches the deparsed delta SQL), then the same
-- statement shape under standard_conforming_strings = off: the cached 'a\b' must not become 'ab'
INSERT INTO av_l VALUES (99, 1, 1, '\x00', 'w');
SET search_path = av_writer_s, pg_temp, pg_catalog, public;
SET extra_float_digits = -3;
SET bytea_output = escape;
SET standard_conforming_strings = off;
SET escape_string_warning = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET work_mem = 64;
INSERT INTO public.av_l VALUES (100, 1, 1 / 3.0, '\x02fe', 'x'), (101, 2, 2 / 3.0, '\x03', 'y');
-- (the writer's own conditions name pg_catalog's operator: his planted = is always true)
UPDATE public.av_l SET price = price * 7
 WHERE lk OPERATOR(pg_catalog.=) 3 OR lk OPERATOR(pg_catalog.=) 100;
DELETE FROM public.av_l WHERE lk OPERATOR(pg_catalog.=) 4;
RESET ALL;
DROP TABLE pg_temp.av_o;  -- (this backend's temporary schema is every role's here)
SELECT pg_temp.err('SELECT count(*) FROM av_v');
SELECT pg_temp.err('SELECT count(*) FROM av_o');
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('av_v')$$);
SELECT rows FROM parallel_material.views WHERE name = 'av_v'::regclass;
RESET SESSION AUTHORIZATION;
SELECT * FROM parallel_material.view_check('av_v');
SELECT lk, ptext, dtext, ntext FROM av_v WHERE lk IN (3, 100, 101) ORDER BY lk;
SELECT * FROM parallel_material.view_check('"av we""ird; DROP TABLE av_o; --"');
-- view_check pins the same settings: a caller's cannot make an exact view look different
SET extra_float_digits = -3;
SET bytea_output = escape;
SELECT * FROM parallel_material.view_check('av_v');
RESET extra_float_digits;
RESET bytea_output;
-- Settings read when the deparsed delta SQL's constants are parsed again: DateStyle (a date
-- deparsed as '01/02/2020' under DMY was read back as January 2 under MDY: the filter let wrong
-- rows in, silently) and array_nulls ('{x,NULL}' read with array_nulls = off has no NULL).
SET SESSION AUTHORIZATION attack_views_owner;
CREATE TABLE av_do (ok int PRIMARY KEY, d date);
CREATE TABLE av_dl (lk int, ok int);
INSERT INTO av_do SELECT g, date '2020-01-01' + g FROM generate_series(1, 60) g;
SELECT parallel_material.create_view('av_dv', $$
  SELECT l.lk, o.d, ('{x,NULL}'::text[])[2] IS NULL AS second_is_null
    FROM av_dl l JOIN av_do o ON l.ok = o.ok
   WHERE o.d > date '2020-02-01' $$);
GRANT INSERT ON av_dl TO attack_views_writer;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SET DateStyle = 'SQL, DMY';
INSERT INTO av_dl VALUES (1, 50);
SET DateStyle = 'SQL, MDY';
INSERT INTO av_dl SELECT g, g FROM generate_series(2, 40) g;
SET DateStyle = 'ISO, MDY';
SET array_nulls = off;
INSERT INTO av_dl VALUES (41, 41);
RESET ALL;
RESET SESSION AUTHORIZATION;
SELECT * FROM parallel_material.view_check('av_dv');
SELECT count(*), bool_and(second_is_null) FROM av_dv;
SET SESSION AUTHORIZATION attack_views_owner;
SELECT parallel_material.drop_view('av_dv');
RESET SESSION AUTHORIZATION;
-- the reader: reads the view table, nothing else
SET SESSION AUTHORIZATION attack_views_reader;
SELECT count(*) > 0 AS reads_view FROM av_v;
SELECT pg_temp.err('SELECT count(*) FROM av_o');
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('av_v')$$);
RESET SESSION AUTHORIZATION;

-- A hostile owner's function in the view: maintenance runs it as the owner (as a security
-- definer trigger of the owner would), and refresh_view by a superuser runs it as the owner too
-- (as REFRESH MATERIALIZED VIEW does); before, refresh_view ran it as the superuser.
SET SESSION AUTHORIZATION attack_views_owner;
CREATE FUNCTION av_whoami(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'av_whoami ran as superuser %', current_user;
    END IF;
    RETURN $1;
END $$;
CREATE TABLE av_k (ok int);
INSERT INTO av_k VALUES (1);
SELECT parallel_material.create_view('av_hostile', $$
  SELECT k.ok, av_whoami(o.ck) AS c FROM av_k k JOIN av_o o ON k.ok = o.ok $$);
RESET SESSION AUTHORIZATION;
SELECT parallel_material.refresh_view('av_hostile');
INSERT INTO av_k VALUES (2);
-- (view_check runs the query as its caller, as a SELECT from a stock view does: docs/views.md)
SET SESSION AUTHORIZATION attack_views_owner;
SELECT * FROM parallel_material.view_check('av_hostile');
RESET SESSION AUTHORIZATION;

-- 3. The view table attacked by its owner and by roles granted rights on it.
SET SESSION AUTHORIZATION attack_views_owner;
GRANT SELECT, INSERT, DELETE ON av_v TO attack_views_writer;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
INSERT INTO av_v (lk, ok) VALUES (-1, -1);                    -- a row behind maintenance's back
DELETE FROM av_v WHERE lk = 5;                                 -- a row maintenance will delete
SELECT pg_temp.err('DELETE FROM av_l WHERE lk = 5');          -- out of step: a clean error
RESET SESSION AUTHORIZATION;
SELECT * FROM parallel_material.view_check('av_v');           -- shows both
SET SESSION AUTHORIZATION attack_views_owner;
SELECT parallel_material.refresh_view('av_v') > 0 AS refreshed;
SELECT count(*) AS differences FROM parallel_material.view_check('av_v');
-- another role's table of the same name earlier on the writer's path is not written
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_stranger;
GRANT USAGE ON SCHEMA av_stranger_s TO PUBLIC;
CREATE TABLE av_stranger_s.av_v (lk int, ok int, secret text, ptext text, dtext text, ntext text);
GRANT ALL ON av_stranger_s.av_v TO PUBLIC;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SET search_path = av_stranger_s, public;
INSERT INTO av_l VALUES (102, 3, 1, '\x00', 'z');
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS stranger_rows FROM av_stranger_s.av_v;
SELECT count(*) AS differences FROM parallel_material.view_check('av_v');
-- renamed: still maintained
SET SESSION AUTHORIZATION attack_views_owner;
ALTER TABLE av_v RENAME TO av_v2;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
INSERT INTO av_l VALUES (103, 4, 1, '\x00', 'z');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS differences FROM parallel_material.view_check('av_v2');
-- the owner's DDL on the view table: clean errors for writers, never wrong rows
SET SESSION AUTHORIZATION attack_views_owner;
SELECT pg_temp.err($$SELECT parallel_material.drop_arrangement('av_o', '{ok}')$$);
ALTER TABLE av_v2 ENABLE ROW LEVEL SECURITY;                   -- the owner bypasses it
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
INSERT INTO av_l VALUES (104, 5, 1, '\x00', 'z');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS differences FROM parallel_material.view_check('av_v2');
SET SESSION AUTHORIZATION attack_views_owner;
ALTER TABLE av_v2 FORCE ROW LEVEL SECURITY;                    -- no policy: nothing visible
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SELECT pg_temp.err($$INSERT INTO av_l VALUES (105, 6, 1, '\x00', 'z')$$);
SELECT pg_temp.err('DELETE FROM av_l WHERE lk = 104');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_owner;
ALTER TABLE av_v2 NO FORCE ROW LEVEL SECURITY;
ALTER TABLE av_v2 DISABLE ROW LEVEL SECURITY;
CREATE RULE av_ignore AS ON INSERT TO av_v2 DO INSTEAD NOTHING;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SELECT pg_temp.err($$INSERT INTO av_l VALUES (106, 7, 1, '\x00', 'z')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_owner;
DROP RULE av_ignore ON av_v2;
CREATE FUNCTION av_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'av_raise: no writes'; END $$;
CREATE TRIGGER av_raise BEFORE INSERT ON av_v2 FOR EACH ROW EXECUTE FUNCTION av_raise();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SELECT pg_temp.err($$INSERT INTO av_l VALUES (107, 8, 1, '\x00', 'z')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_owner;
DROP TRIGGER av_raise ON av_v2;
ALTER TABLE av_v2 ADD COLUMN extra int;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SELECT pg_temp.err($$INSERT INTO av_l VALUES (108, 9, 1, '\x00', 'z')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_owner;
ALTER TABLE av_v2 DROP COLUMN extra;
TRUNCATE av_v2;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_writer;
SELECT pg_temp.err('DELETE FROM av_l WHERE lk = 6');          -- out of step again
INSERT INTO av_l VALUES (109, 9, 1, '\x00', 'z');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION attack_views_owner;
SELECT parallel_material.refresh_view('av_v2') > 0 AS refreshed;
SELECT count(*) AS differences FROM parallel_material.view_check('av_v2');
SELECT parallel_material.drop_view('av_v2');
SELECT parallel_material.drop_view('av_hostile');
SELECT parallel_material.drop_view('"av we""ird; DROP TABLE av_o; --"');
RESET SESSION AUTHORIZATION;

SELECT pg_postmaster_start_time() = :'started' AS same_postmaster;
DROP SCHEMA av_stranger_s CASCADE;
DROP SCHEMA av_writer_s CASCADE;
DROP OWNED BY attack_views_owner, attack_views_writer, attack_views_reader, attack_views_stranger CASCADE;
DROP ROLE attack_views_owner;
DROP ROLE attack_views_writer;
DROP ROLE attack_views_reader;
DROP ROLE attack_views_stranger;
