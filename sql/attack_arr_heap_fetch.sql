-- attack_arr_heap_fetch: a heap fetch by TID (an arrangement lacking columns the query reads)
-- applies exactly the privilege and row-level security rules of every other read: a role reads
-- through it only columns it may SELECT (table or column privileges, checked at each execution,
-- a cached plan included), a security-invoker view checks the caller, and row-level security
-- enabled after the arrangement was created keeps every reader on the stock plan (its rows are
-- the policies'). Several LOGIN roles; every result is compared with the stock plan.
CREATE ROLE ahf_owner LOGIN;
CREATE ROLE ahf_cols LOGIN;     -- SELECT on hf_o, on hf_l's (ok, qty) only
CREATE ROLE ahf_none LOGIN;     -- SELECT on hf_o only
CREATE ROLE ahf_rls LOGIN;      -- SELECT on both, under a policy
GRANT USAGE ON SCHEMA public TO ahf_owner, ahf_cols, ahf_none, ahf_rls;
GRANT CREATE ON SCHEMA public TO ahf_owner;
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
        IF line ~ 'ArrangementJoin|Heap Columns:' THEN
            acc := acc || CASE WHEN acc = '' THEN '' ELSE '; ' END || btrim(regexp_replace(line, '^.*-> *', ''));
        END IF;
    END LOOP;
    RETURN CASE WHEN acc = '' THEN 'stock' ELSE acc END;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text), pg_temp.run(text), pg_temp.both(text), pg_temp.uses(text) TO PUBLIC;

SET ROLE ahf_owner;
CREATE TABLE ahf_o (o_id int, note text);
CREATE TABLE ahf_l (ok int, qty int, secret text);
INSERT INTO ahf_o SELECT g, 'o' || g FROM generate_series(1, 500) g;
INSERT INTO ahf_l SELECT 1 + g % 500, g % 20, 'secret ' || g FROM generate_series(1, 2000) g;
ANALYZE ahf_o, ahf_l;
SELECT parallel_material.create_arrangement('ahf_l', '{ok}', '{}');
GRANT SELECT ON ahf_o TO ahf_cols, ahf_none, ahf_rls;
GRANT SELECT (ok, qty) ON ahf_l TO ahf_cols;
GRANT SELECT ON ahf_l TO ahf_rls;
-- a view exposing qty only, with the owner's rights, and a security-invoker one
CREATE VIEW ahf_v_owner AS SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id;
CREATE VIEW ahf_v_invoker WITH (security_invoker = true) AS
  SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id;
GRANT SELECT ON ahf_v_owner, ahf_v_invoker TO ahf_cols, ahf_none;
RESET ROLE;

-- column privileges: qty is granted, secret is not
SET ROLE ahf_cols;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
-- secret in the output, in WHERE only, in the join clause only, in an aggregate, in a LEFT JOIN
SELECT pg_temp.both($$SELECT o.o_id, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4 AND l.secret LIKE 'secret 1%'$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id AND l.secret > o.note WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT max(l.secret) FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ahf_o o LEFT JOIN ahf_l l ON l.ok = o.o_id AND l.secret IS NOT NULL WHERE o.o_id < 4$$);
SELECT pg_temp.both($$SELECT o.o_id, l.* FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 4$$);
-- the owner's view reads secret with the owner's rights; the invoker's view checks ahf_cols
SELECT pg_temp.both($$SELECT o_id, qty, secret FROM ahf_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ahf_v_invoker WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, secret FROM ahf_v_invoker WHERE o_id < 3$$);
-- a plan cached while qty was granted: the revoke is enforced at the next execution
PREPARE q AS SELECT o.o_id, l.qty FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id = 2 ORDER BY 2;
EXECUTE q;
RESET ROLE;
SET ROLE ahf_owner;
REVOKE SELECT (qty) ON ahf_l FROM ahf_cols;
RESET ROLE;
SET ROLE ahf_cols;
SELECT pg_temp.run($$EXECUTE q$$);
DEALLOCATE q;
SELECT pg_temp.both($$SELECT o.o_id FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
RESET ROLE;

-- no privilege on the arranged table at all: only the owner's view reads it
SET ROLE ahf_none;
SELECT pg_temp.both($$SELECT o.o_id, l.qty FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT o.o_id FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.uses($$SELECT o_id, qty FROM ahf_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ahf_v_owner WHERE o_id < 3$$);
SELECT pg_temp.both($$SELECT o_id, qty FROM ahf_v_invoker WHERE o_id < 3$$);
RESET ROLE;

-- row-level security enabled after the arrangement exists: readers under a policy keep the
-- stock plan and see the policy's rows only; FORCE puts the owner under it too
SET ROLE ahf_owner;
CREATE POLICY ahf_p ON ahf_l FOR SELECT USING (qty < 3);
ALTER TABLE ahf_l ENABLE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE ahf_rls;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
SELECT pg_temp.both($$SELECT count(*) FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
RESET ROLE;
SET ROLE ahf_owner;
-- the owner bypasses its own policies unless forced (then the arrangement serves it)
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT count(*) FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
ALTER TABLE ahf_l FORCE ROW LEVEL SECURITY;
SELECT pg_temp.uses($$SELECT o.o_id, l.qty, l.secret FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 3$$);
SELECT pg_temp.both($$SELECT count(*), max(l.qty) FROM ahf_o o JOIN ahf_l l ON l.ok = o.o_id WHERE o.o_id < 30$$);
RESET ROLE;

DROP VIEW ahf_v_owner, ahf_v_invoker;
DROP TABLE ahf_o, ahf_l;
REVOKE CREATE ON SCHEMA public FROM ahf_owner;
REVOKE USAGE ON SCHEMA public FROM ahf_owner, ahf_cols, ahf_none, ahf_rls;
DROP ROLE ahf_owner, ahf_cols, ahf_none, ahf_rls;
