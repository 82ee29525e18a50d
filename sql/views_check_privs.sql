-- views_check_privs: whose rights view_check runs with (docs/views.md, "Security"). It runs the
-- view's query as its caller, like a SELECT from a security_invoker view: a caller with SELECT
-- on the view table but not on an input gets a permission error, never rows of that input read
-- with the owner's rights; with SELECT on everything it compares as the owner would. Functions
-- of the query then run as the caller (shown by a function that reports current_user): call
-- view_check only on views whose owner you trust, as you would query their security_invoker views.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SET client_min_messages = warning;
CREATE ROLE pm_vc_owner LOGIN;
CREATE ROLE pm_vc_reader LOGIN;
GRANT CREATE ON SCHEMA public TO pm_vc_owner;
SET SESSION AUTHORIZATION pm_vc_owner;
CREATE TABLE vc_a (k int, secret text);
CREATE TABLE vc_b (k int, x int);
INSERT INTO vc_a VALUES (1, 'a1'), (2, 'a2');
INSERT INTO vc_b VALUES (1, 10), (2, 20), (2, 21);
CREATE FUNCTION vc_who(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF current_user::text = 'pm_vc_reader' THEN RAISE NOTICE 'vc_who ran as %', current_user; END IF;
    RETURN v;
END $$;
SELECT parallel_material.create_view('vc_v', $$
  SELECT a.k, a.secret, vc_who(b.x) AS x FROM vc_a a JOIN vc_b b ON a.k = b.k $$) IS NOT NULL AS created;
SELECT parallel_material.create_view('vc_n', $$
  SELECT count(*) AS n, max(a.secret) AS s FROM vc_a a JOIN vc_b b ON a.k = b.k $$) IS NOT NULL AS created;
GRANT SELECT ON vc_v, vc_n TO pm_vc_reader;
-- out of step: a column other than x changed (view_check once named its rows x, so that for a
-- view with a column x it compared that column only and called this view exact)
UPDATE vc_v SET secret = 'tampered' WHERE k = 1;
SELECT * FROM parallel_material.view_check('vc_v');
UPDATE vc_v SET secret = 'a1' WHERE k = 1;
-- a row of the query missing from the table
DELETE FROM vc_v WHERE x = 21;
SELECT * FROM parallel_material.view_check('vc_v');
RESET SESSION AUTHORIZATION;

-- the reader may read the view tables, not the inputs: view_check fails, no row shown
SET SESSION AUTHORIZATION pm_vc_reader;
SELECT count(*) AS reader_reads_view FROM vc_v;
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('vc_v')$$);
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('vc_n')$$);
RESET SESSION AUTHORIZATION;

-- SELECT on one input only: still an error
SET SESSION AUTHORIZATION pm_vc_owner;
GRANT SELECT ON vc_b TO pm_vc_reader;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION pm_vc_reader;
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('vc_v')$$);
RESET SESSION AUTHORIZATION;

-- SELECT on every input: the same differences the owner sees; the query's function ran as the
-- reader
SET SESSION AUTHORIZATION pm_vc_owner;
GRANT SELECT ON vc_a TO pm_vc_reader;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION pm_vc_reader;
SET client_min_messages = notice;
SELECT * FROM parallel_material.view_check('vc_v');
SET client_min_messages = warning;
SELECT * FROM parallel_material.view_check('vc_n');
-- without SELECT on the view table: an error too
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION pm_vc_owner;
REVOKE SELECT ON vc_n FROM pm_vc_reader;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION pm_vc_reader;
SELECT pg_temp.err($$SELECT * FROM parallel_material.view_check('vc_n')$$);
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION pm_vc_owner;
SELECT parallel_material.drop_view('vc_v'), parallel_material.drop_view('vc_n');
DROP TABLE vc_a, vc_b;
DROP FUNCTION vc_who(int);
RESET SESSION AUTHORIZATION;
REVOKE CREATE ON SCHEMA public FROM pm_vc_owner;
DROP ROLE pm_vc_owner, pm_vc_reader;
