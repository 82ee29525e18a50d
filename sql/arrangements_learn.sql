-- arrangements_learn: learnt columns (docs/arrangements.md, "Learnt columns"). A join on an
-- arrangement's key that reads columns the arrangement lacks (fetched from the heap by TID)
-- records them, as far as the query's role may read them; the arrangements view shows them in
-- wanted_columns (NULL to a role without SELECT on the table) and widen_arrangement (owner only)
-- adds them to the definition in place, after which the join reads no heap column.
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
-- The plan's ArrangementJoin lines (the node, its arrangement and heap columns), or 'stock'.
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

CREATE ROLE learn_owner LOGIN;
CREATE ROLE learn_nosel LOGIN;   -- no privilege on learn_l
CREATE ROLE learn_cols LOGIN;    -- SELECT on learn_l's columns ok and line only
CREATE TABLE learn_o (o_id int, c int);
CREATE TABLE learn_l (ok int, line int, qty int, price numeric, comment text);
INSERT INTO learn_o SELECT g, g % 10 FROM generate_series(1, 2000) g;
INSERT INTO learn_l SELECT 1 + g % 2000, g, g % 50, g * 1.25, 'c' || g FROM generate_series(1, 8000) g;
ANALYZE learn_o, learn_l;
ALTER TABLE learn_o OWNER TO learn_owner;
ALTER TABLE learn_l OWNER TO learn_owner;
GRANT SELECT ON learn_o TO learn_nosel, learn_cols;
GRANT SELECT (ok, line) ON learn_l TO learn_cols;

SET ROLE learn_owner;
SELECT parallel_material.create_arrangement('learn_l', '{ok}', '{}');
SELECT columns, wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
-- a join reading two columns the key-only arrangement lacks: fetched from the heap, and learnt
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
RESET ROLE;

-- a role that may not read the table: sees no learnt column, may not widen
SET ROLE learn_nosel;
SELECT columns, wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
SELECT pg_temp.err_or($$SELECT parallel_material.widen_arrangement('learn_l', '{ok}')::text$$);
SELECT pg_temp.err_or($$SELECT parallel_material.widen_arrangement('learn_l')::text$$);
RESET ROLE;

-- a role with SELECT on some columns: a join reading line (granted) teaches line; one reading
-- price (not granted) fails its privilege check and teaches nothing
SET ROLE learn_cols;
SELECT pg_temp.err_or($$SELECT count(l.line)::text FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.err_or($$SELECT count(l.price)::text FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.err_or($$EXPLAIN SELECT l.price FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
RESET ROLE;
SET ROLE learn_owner;
SELECT wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;

-- widen: the definition (same id) gets its columns plus the learnt ones in place; the entry
-- built with the old columns is not read any more (invalid) and is rebuilt after the commit (by
-- a worker, or by the first read through a SQL function); the join then fetches nothing
BEGIN;
SELECT parallel_material.widen_arrangement('learn_l', '{ok}');
SELECT columns, state, wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
COMMIT;
SELECT count(*) AS differences FROM parallel_material.arrangement_check('learn_l');
SELECT columns, state, wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.comment FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment, l.line FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- maintained after the rebuild (its triggers are the new definition's)
UPDATE learn_l SET qty = qty + 1 WHERE ok < 10;
SELECT pg_temp.diff($$SELECT o.o_id, l.qty, l.comment FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- nothing more learnt: widen does nothing
SELECT parallel_material.widen_arrangement('learn_l');
SELECT columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
SELECT parallel_material.drop_arrangement('learn_l');
RESET ROLE;

-- an arrangement a maintained view uses is widened in place too (same id: the view keeps it);
-- the view stays exact
SELECT parallel_material.create_arrangement('learn_l', '{ok}', '{}');
SELECT parallel_material.create_view('learn_v',
  'SELECT o.o_id, l.qty FROM learn_o o JOIN learn_l l ON l.ok = o.o_id') IS NOT NULL AS created;
SELECT pg_temp.uses($$SELECT o.o_id, l.price FROM learn_o o JOIN learn_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT wanted_columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
SELECT parallel_material.widen_arrangement('learn_l');
INSERT INTO learn_l VALUES (1, 0, 7, 1, 'new');
SELECT count(*) AS differences FROM parallel_material.view_check('learn_v');
SELECT count(*) AS differences FROM parallel_material.arrangement_check('learn_l');
SELECT columns FROM parallel_material.arrangements WHERE relation = 'learn_l'::regclass;
SELECT parallel_material.drop_view('learn_v');
SELECT parallel_material.drop_arrangement('learn_l');
DROP TABLE learn_o, learn_l;
DROP ROLE learn_owner, learn_nosel, learn_cols;
