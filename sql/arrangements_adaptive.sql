-- arrangements_adaptive: adaptive arrangements (docs/arrangements.md, "Learnt columns"). With
-- include => NULL (parallel_material.arrangement_default_columns = adaptive, the default) an
-- arrangement holds its key only; a join reading other columns teaches them (as far as the
-- query's role may read them) and a background worker widens the definition in place (same id,
-- same triggers, views keep it) and rebuilds it. include => '{*}' keeps every column.
-- The waits poll with a bound (no timing in the assertions).
SET parallel_material.arrangement_default_columns = adaptive;
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
GRANT EXECUTE ON FUNCTION pg_temp.diff(text) TO PUBLIC;
CREATE FUNCTION pg_temp.err_or(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err_or(text) TO PUBLIC;
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
GRANT EXECUTE ON FUNCTION pg_temp.uses(text) TO PUBLIC;
-- Plans q (which learns) until rel's arranged columns hold col and the arrangement is ready
-- again, at most 60 s; returns the columns (the caller compares them).
CREATE FUNCTION pg_temp.wait_widened(rel regclass, col text, q text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    c text[];
    s text;
BEGIN
    FOR i IN 1..600 LOOP
        BEGIN
            EXECUTE 'EXPLAIN (COSTS OFF) ' || q;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        SELECT a.columns, a.state INTO c, s FROM parallel_material.arrangements a
         WHERE a.relation = rel;
        EXIT WHEN col = ANY(c) AND s = 'ready';
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN c;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.wait_widened(regclass, text, text) TO PUBLIC;

CREATE ROLE adapt_owner LOGIN;
CREATE ROLE adapt_nosel LOGIN;   -- SELECT on adapt_o only
CREATE ROLE adapt_cols LOGIN;    -- SELECT on adapt_l's columns ok and line only
CREATE TABLE adapt_o (o_id int, c int);
CREATE TABLE adapt_l (ok int, line int, qty int, price numeric, comment text, secret text);
INSERT INTO adapt_o SELECT g, g % 10 FROM generate_series(1, 2000) g;
INSERT INTO adapt_l SELECT 1 + g % 2000, g, g % 50, g * 1.25, 'c' || g, 's' || g
  FROM generate_series(1, 8000) g;
ANALYZE adapt_o, adapt_l;
ALTER TABLE adapt_o OWNER TO adapt_owner;
ALTER TABLE adapt_l OWNER TO adapt_owner;
GRANT SELECT ON adapt_o TO adapt_nosel, adapt_cols;
GRANT SELECT (ok, line) ON adapt_l TO adapt_cols;

-- include '{*}' keeps every column; so does include => NULL under 'all'; neither is adaptive
SET ROLE adapt_owner;
SELECT parallel_material.create_arrangement('adapt_l', '{ok}', '{*}');
SELECT a.columns, d.adaptive FROM parallel_material.arrangements a
  JOIN parallel_material.arrangement_defs d ON d.relid = a.relation WHERE a.relation = 'adapt_l'::regclass;
SELECT parallel_material.drop_arrangement('adapt_l');
SET parallel_material.arrangement_default_columns = 'all';
SELECT parallel_material.create_arrangement('adapt_l', '{ok}');
SELECT a.columns, d.adaptive FROM parallel_material.arrangements a
  JOIN parallel_material.arrangement_defs d ON d.relid = a.relation WHERE a.relation = 'adapt_l'::regclass;
SELECT parallel_material.drop_arrangement('adapt_l');
RESET parallel_material.arrangement_default_columns;
SELECT pg_temp.err_or($$SELECT parallel_material.create_arrangement('adapt_l', '{ok}', '{*,qty}')::text$$);

-- the default: the key only, adaptive
SELECT parallel_material.create_arrangement('adapt_l', '{ok}');
SELECT a.columns, a.wanted_columns, d.adaptive FROM parallel_material.arrangements a
  JOIN parallel_material.arrangement_defs d ON d.relid = a.relation WHERE a.relation = 'adapt_l'::regclass;
SELECT d.defid AS defid0 FROM parallel_material.arrangement_defs d WHERE d.relid = 'adapt_l'::regclass \gset
RESET ROLE;

-- a role without SELECT on adapt_l: sees no learnt column, may not widen, teaches nothing
SET ROLE adapt_nosel;
SELECT pg_temp.err_or($$SELECT count(l.qty)::text FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT columns, wanted_columns FROM parallel_material.arrangements WHERE relation = 'adapt_l'::regclass;
SELECT pg_temp.err_or($$SELECT parallel_material.widen_arrangement('adapt_l')::text$$);
RESET ROLE;

-- a role with SELECT on ok and line: its query reading secret fails and teaches nothing; its
-- query reading line teaches line, and the widening (run by the worker as the owner) adds line
-- only: nothing this role could not read is arranged or written into the definition
SET ROLE adapt_cols;
SELECT pg_temp.err_or($$SELECT count(l.secret)::text FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.err_or($$EXPLAIN SELECT l.secret FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.wait_widened('adapt_l', 'line',
  $$SELECT o.o_id, l.line FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.line FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
RESET ROLE;
SELECT columns, state FROM parallel_material.arrangements WHERE relation = 'adapt_l'::regclass;
SELECT attnums FROM parallel_material.arrangement_defs WHERE relid = 'adapt_l'::regclass;
SELECT columns FROM parallel_material.arrangement_restore_defs WHERE defid = :defid0;

-- the owner's join in a read-only transaction: learnt, widened by the worker (the planning
-- backend writes nothing); the same definition id throughout
SET ROLE adapt_owner;
BEGIN READ ONLY;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
COMMIT;
SELECT pg_temp.wait_widened('adapt_l', 'comment',
  $$SELECT o.o_id, l.qty, l.comment FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT d.defid = :defid0 AS same_defid FROM parallel_material.arrangement_defs d WHERE d.relid = 'adapt_l'::regclass;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment, l.line FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- maintained by the same triggers across the widening
UPDATE adapt_l SET qty = qty + 1, comment = comment || 'u' WHERE ok < 10;
DELETE FROM adapt_l WHERE ok = 5;
INSERT INTO adapt_l VALUES (7, 0, 1, 1, 'new', 'x');
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT count(*) AS differences FROM parallel_material.arrangement_check('adapt_l');
RESET ROLE;

-- a maintained view using an adaptive arrangement: widened in place under it (no refusal);
-- the view keeps its arrangement and stays exact
SELECT parallel_material.create_view('adapt_v',
  'SELECT o.o_id, l.qty FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id') IS NOT NULL AS created;
SELECT pg_temp.wait_widened('adapt_l', 'price',
  $$SELECT o.o_id, l.price FROM adapt_o o JOIN adapt_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
INSERT INTO adapt_l VALUES (1, 0, 7, 1, 'new', 'y');
UPDATE adapt_l SET qty = qty + 2 WHERE ok = 2;
SELECT count(*) AS differences FROM parallel_material.view_check('adapt_v');
SELECT d.defid = :defid0 AS same_defid FROM parallel_material.arrangement_defs d WHERE d.relid = 'adapt_l'::regclass;
-- widen_arrangement (the owner's, synchronous): nothing more learnt, nothing added
SET ROLE adapt_owner;
SELECT parallel_material.widen_arrangement('adapt_l');
RESET ROLE;
SELECT parallel_material.drop_view('adapt_v');
SELECT parallel_material.drop_arrangement('adapt_l');
DROP TABLE adapt_o, adapt_l;
DROP ROLE adapt_owner, adapt_nosel, adapt_cols;
