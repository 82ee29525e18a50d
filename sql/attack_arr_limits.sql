SET parallel_material.arrangement_default_columns = 'all';  -- include => NULL: every column (this test is not about adaptive arrangements)
-- attack_arr_limits: one role cannot starve the others of arrangement reader slots. A reader
-- with only SELECT opens many cursors over joins through an arrangement in one session (each
-- keeps its scan open); before, each held one of the arrangement's MaxBackends + 16 slots until
-- closed, so about 150 cursors made every probe of that arrangement fail with "no free reader
-- slot" for every session. Readers now claim a slot only for the duration of a probe.
CREATE ROLE arr_lim_owner;
CREATE ROLE arr_lim_reader;
CREATE SCHEMA arr_lim AUTHORIZATION arr_lim_owner;
GRANT USAGE ON SCHEMA arr_lim TO arr_lim_reader;
SET ROLE arr_lim_owner;
CREATE TABLE arr_lim.inner_t (k int, v text);
CREATE TABLE arr_lim.outer_t (id int, k int);
INSERT INTO arr_lim.inner_t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
INSERT INTO arr_lim.outer_t SELECT g, g FROM generate_series(1, 1000) g;
ANALYZE arr_lim.inner_t, arr_lim.outer_t;
SELECT parallel_material.create_arrangement('arr_lim.inner_t', '{k}');
GRANT SELECT ON arr_lim.inner_t, arr_lim.outer_t TO arr_lim_reader;
RESET ROLE;

-- Opens n cursors over the join, fetches one row from each and keeps them all open; returns the
-- sum of the rows fetched.
CREATE FUNCTION arr_lim.open_many(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    c refcursor;
    r record;
    total bigint := 0;
BEGIN
    FOR i IN 1..n LOOP
        c := 'arr_lim_c' || i;
        OPEN c FOR SELECT o.id, x.v FROM arr_lim.outer_t o JOIN arr_lim.inner_t x ON x.k = o.k
                    WHERE o.id > i ORDER BY o.id;
        FETCH c INTO r;
        total := total + r.id;
    END LOOP;
    RETURN total;
END $$;
GRANT USAGE ON SCHEMA arr_lim TO arr_lim_reader;

SET ROLE arr_lim_reader;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT o.id, x.v FROM arr_lim.outer_t o JOIN arr_lim.inner_t x ON x.k = o.k
 WHERE o.id > 1 ORDER BY o.id;
BEGIN;
-- 400 open cursors, each inside the arrangement's scan: more than its reader slots.
SELECT arr_lim.open_many(400) = (SELECT sum(g + 1) FROM generate_series(1, 400) g) AS all_fetched;
-- while they are open, another probe of the same arrangement still works
SELECT count(*) FROM arr_lim.outer_t o JOIN arr_lim.inner_t x ON x.k = o.k WHERE o.id <= 10;
FETCH 2 FROM arr_lim_c400;
COMMIT;
RESET ROLE;

-- The same from SQL functions: a probe and a scan inside 400 open cursors.
BEGIN;
SELECT arr_lim.open_many(400) IS NOT NULL AS opened;
SELECT count(*) FROM parallel_material.arrangement_probe('arr_lim.inner_t', '{7}');
SELECT count(*) FROM parallel_material.arrangement_check('arr_lim.inner_t');
COMMIT;

RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET max_parallel_workers_per_gather;
DROP SCHEMA arr_lim CASCADE;
DROP ROLE arr_lim_owner;
DROP ROLE arr_lim_reader;
