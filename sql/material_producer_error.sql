-- material_producer_error: the error of a participant producing a shared materialization is the
-- query's error, as stock PostgreSQL reports it, also when the leader receives it while it is
-- still producing its own share (it arrives there through CHECK_FOR_INTERRUPTS, inside the
-- production loop). That error used to be dropped as "another producer failed first" and the
-- leader, after waiting 30 s for an error it had already consumed, reported "the participant
-- producing a shared materialization failed" (or "lost connection to parallel worker") instead.
-- Every row costs some work (md5 of 10 kB) so that every participant is still aggregating its
-- share when the one that meets x = 30000 fails; with 2 workers, most runs fail in a worker.
CREATE TABLE pe_outer AS SELECT g AS a, g % 100 AS b FROM generate_series(1, 30000) g;
CREATE TABLE pe_in AS SELECT g AS x FROM generate_series(1, 60000) g;
ALTER TABLE pe_in SET (parallel_workers = 0);
ANALYZE pe_outer, pe_in;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
\set q 'SELECT count(*) FROM pe_outer WHERE b < ALL (SELECT sum(10 / (x - 30000) + length(md5(repeat(x::text, 2000)))) FROM pe_in)'
-- the plan: a shared ParallelMaterial whose participants all aggregate (checked by its mode)
SET parallel_material.enable = on;
CREATE FUNCTION pe_every_participant(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text; found boolean := false;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    found := found OR l LIKE '%Mode: shared, every participant aggregates%';
  END LOOP;
  RETURN found;
END $$;
SELECT pe_every_participant(:'q');
\set VERBOSITY terse
SET parallel_material.enable = off;
:q;
SET parallel_material.enable = on;
:q;
:q;
:q;
:q;
\set VERBOSITY default
-- the session goes on
SELECT count(*) FROM pe_outer WHERE b < ALL (SELECT sum(x) FROM pe_in);
DROP FUNCTION pe_every_participant(text);
DROP TABLE pe_outer, pe_in;
