-- attack_arr_rowstore: a row arrangement (create_row_arrangement: every column of the table, keyed
-- by TID) read by a key-only arrangement in place of the heap applies exactly the privilege and
-- row-level security rules of the heap fetch it replaces: a role reads through it only columns it
-- may SELECT (table or column privileges, checked at each execution, a cached plan included),
-- even though the row arrangement holds every column; a security-invoker view checks the caller;
-- row-level security enabled after the arrangements exist keeps every reader on the stock plan.
-- Only the table's owner creates or drops a row arrangement, and reading it directly
-- (arrangement_rows) needs SELECT on the whole table. Several LOGIN roles; every result is
-- compared with the stock plan.
CREATE ROLE ars_owner LOGIN;
CREATE ROLE ars_cols LOGIN;     -- SELECT on ars_o, on ars_l's (ok, qty) only
CREATE ROLE ars_none LOGIN;     -- SELECT on ars_o only
CREATE ROLE ars_rls LOGIN;      -- SELECT on both, under a policy
GRANT USAGE ON SCHEMA public TO ars_owner, ars_cols, ars_none, ars_rls;
GRANT CREATE ON SCHEMA public TO ars_owner;
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE format('SELECT string_agg(x::text, ''|'' ORDER BY x::text) FROM (%s) x', q) INTO r;
    RETURN 'ok: ' || coalesce(r, '<none>');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a statement's first value, or its error
CREATE FUNCTION pg_temp.run(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN 'ok: ' || coalesce(r, '<none>');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- stock's answer (or error) and the arrangement's, side by side
CREATE FUNCTION pg_temp.both(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    stock text;
    arr text;
BEGIN
    PERFORM set_config('parallel_material.enable_arrangement_join', 'off', true);
    stock := pg_temp.err(q);
    PERFORM set_config('parallel_material.enable_arrangement_join', 'on', true);
    arr := pg_temp.err(q);
    RETURN CASE WHEN stock IS NOT DISTINCT FROM arr THEN 'same: ' || arr
                ELSE 'DIFFERENT: stock ' || stock || ' / arrangement ' || arr END;
END $$;
CREATE FUNCTION pg_temp.uses(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    acc text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line ~ 'ArrangementJoin|Heap Columns:|Row Columns:' THEN
            acc := acc || CASE WHEN acc = '' THEN '' ELSE '; ' END || btrim(regexp_replace(line, '^.*-> *', ''));
        END IF;
    END LOOP;
    RETURN CASE WHEN acc = '' THEN 'stock' ELSE acc END;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text), pg_temp.run(text), pg_temp.both(text), pg_temp.uses(text) TO PUBLIC;


SET ROLE ars_owner;
CREATE TABLE ars_o (o_id int, note text);
CREATE TABLE ars_l (ok int, qty int, secret text);
INSERT INTO ars_o SELECT g, 'o' || g FROM generate_series(1, 500) g;
INSERT INTO ars_l SELECT 1 + g % 500, g % 20, 'secret ' || g FROM generate_series(1, 2000) g;
ANALYZE ars_o, ars_l;
SELECT parallel_material.create_arrangement('ars_l', '{ok}', '{}');
SELECT parallel_material.create_row_arrangement('ars_l');
GRANT SELECT ON ars_o TO ars_cols, ars_none, ars_rls;
GRANT SELECT (ok, qty) ON ars_l TO ars_cols;
GRANT SELECT ON ars_l TO ars_rls;
CREATE VIEW ars_v_owner AS SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id;
CREATE VIEW ars_v_invoker WITH (security_invoker = true) AS
  SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id;
GRANT SELECT ON ars_v_owner, ars_v_invoker TO ars_cols, ars_none;
RESET ROLE;

-- only the owner creates or drops the row arrangement; reading it whole needs SELECT on the table
SET ROLE ars_cols;
SELECT pg_temp.run($$SELECT parallel_material.create_row_arrangement('ars_o')::text$$);
SELECT pg_temp.run($$SELECT parallel_material.drop_arrangement('ars_l', '{}')::text$$);
SELECT pg_temp.run($$SELECT count(*) FROM parallel_material.arrangement_rows('ars_l', '{}')$$);
SELECT pg_temp.run($$SELECT count(*) FROM parallel_material.arrangement_probe('ars_l', '{}', '{}')$$);
RESET ROLE;
SET ROLE ars_rls;
SELECT pg_temp.run($$SELECT parallel_material.create_row_arrangement('ars_o')::text$$);
SELECT pg_temp.run($$SELECT count(*) FROM parallel_material.arrangement_rows('ars_l', '{}')$$);
RESET ROLE;

-- column privileges: qty is granted, secret is not (the row arrangement holds both)
SET ROLE ars_cols;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4 AND l.secret LIKE 'secret 1%'$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ars_o o JOIN ars_l l ON l.ok = o.o_id AND l.secret > o.note WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT max(l.secret) FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ars_o o LEFT JOIN ars_l l ON l.ok = o.o_id AND l.secret IS NOT NULL WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.* FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o_id, qty, secret FROM ars_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ars_v_invoker WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, secret FROM ars_v_invoker WHERE o_id < 3$$);
-- a plan cached while qty was granted: the revoke is enforced at the next execution
PREPARE q AS SELECT o.o_id, l.qty FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id = 2 ORDER BY 2;
EXECUTE q;
RESET ROLE;
SET ROLE ars_owner;
REVOKE SELECT (qty) ON ars_l FROM ars_cols;
RESET ROLE;
SET ROLE ars_cols;
SELECT pg_temp.run($$EXECUTE q$$);
DEALLOCATE q;
SELECT pg_temp.both($$SELECT o.o_id FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
RESET ROLE;

-- no privilege on the arranged table at all: only the owner's view reads it
SET ROLE ars_none;
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.uses($$SELECT o_id, qty FROM ars_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ars_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ars_v_invoker WHERE o_id < 3$$);
RESET ROLE;

-- row-level security enabled after the arrangements exist: readers under a policy keep the
-- stock plan and see the policy's rows only; FORCE puts the owner under it too
SET ROLE ars_owner;
CREATE POLICY ars_p ON ars_l FOR SELECT USING (qty < 3);
ALTER TABLE ars_l ENABLE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE ars_rls;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.both($$SELECT count(*) FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.run($$SELECT count(*) FROM parallel_material.arrangement_rows('ars_l', '{}')$$);
RESET ROLE;
SET ROLE ars_owner;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT count(*) FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
ALTER TABLE ars_l FORCE ROW LEVEL SECURITY;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT count(*), max(l.qty) FROM ars_o o JOIN ars_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
-- a new row arrangement is refused under row-level security, as create_arrangement is
SELECT pg_temp.run($$SELECT parallel_material.drop_arrangement('ars_l', '{}')::text$$);
SELECT pg_temp.run($$SELECT parallel_material.create_row_arrangement('ars_l')::text$$);
RESET ROLE;

DROP VIEW ars_v_owner, ars_v_invoker;
DROP TABLE ars_o, ars_l;
REVOKE CREATE ON SCHEMA public FROM ars_owner;
REVOKE USAGE ON SCHEMA public FROM ars_owner, ars_cols, ars_none, ars_rls;
DROP ROLE ars_owner, ars_cols, ars_none, ars_rls;
