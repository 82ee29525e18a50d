-- attack_share_midchange: a setting in the key (extra_float_digits, bytea_output) that changes
-- WHILE a shared node produces or reads, between two pulls of its rows (issue 12, item 2).
-- Stock computes the later rows under the new settings (f::text, b::text). Three login roles:
-- alice produces through cursors and changes settings between FETCHes (SET, a savepoint rolled
-- back, set_config() per row of an outer query over a MATERIALIZED CTE); bob, with alice's
-- original settings, then runs the same query and must get stock's rows (on the unfixed code he
-- hit alice's entry, whose later rows had alice's new text). Then the readers: bob and carol hit
-- a clean entry and change a setting between two pulls (SET between FETCHes, a function with a
-- SET clause that FETCHes, set_config() per row): the later rows must be stock's or a clear error,
-- never the entry's old-settings text (on the unfixed code they got the old text). Settings
-- changed and restored between two pulls (a subtransaction rolled back) change nothing.
-- Joins without ORDER BY: the join computes each row's text when it returns the row (a Sort on
-- top would compute them all at the first FETCH; a plain scan is no whole-result site).
SET client_min_messages = warning;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
CREATE ROLE pm_mid_alice LOGIN;
CREATE ROLE pm_mid_bob LOGIN;
CREATE ROLE pm_mid_carol LOGIN;
ALTER ROLE pm_mid_alice SET parallel_material.enable = on;
ALTER ROLE pm_mid_bob SET parallel_material.enable = on;
ALTER ROLE pm_mid_carol SET parallel_material.enable = on;
ALTER ROLE pm_mid_alice SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_mid_bob SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_mid_carol SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_mid_alice SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_mid_bob SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_mid_carol SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_mid_alice SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_mid_bob SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_mid_carol SET max_parallel_workers_per_gather = 0;

CREATE TABLE pm_mid_t (id int, f float8, b bytea);
INSERT INTO pm_mid_t SELECT i, i / 7.0, decode('00ff' || lpad(to_hex(i), 2, '0'), 'hex')
  FROM generate_series(1, 6) i;
CREATE TABLE pm_mid_k (id int);
INSERT INTO pm_mid_k SELECT generate_series(1, 6);
ANALYZE pm_mid_t, pm_mid_k;
GRANT SELECT ON pm_mid_t, pm_mid_k TO pm_mid_alice, pm_mid_bob, pm_mid_carol;
\i sql/include/attack_share.psql
SELECT pm_wait_tracking('pm_mid_t'), pm_wait_tracking('pm_mid_k');
-- FETCHes from a cursor inside a function whose SET clause changes both settings.
CREATE FUNCTION pm_mid_fetch(c refcursor) RETURNS text LANGUAGE plpgsql
  SET extra_float_digits = 0 SET bytea_output = escape AS $$
DECLARE r record;
BEGIN
  FETCH c INTO r;
  RETURN r.id || ' ' || r.f || ' ' || r.b;
END $$;
-- Reads a query in a loop whose body changes a setting in a subtransaction that it rolls back:
-- every row is pulled with the original settings.
CREATE FUNCTION pm_mid_loop(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; acc text := '';
BEGIN
  FOR r IN EXECUTE q LOOP
    BEGIN
      PERFORM set_config('extra_float_digits', '0', false);
      PERFORM set_config('bytea_output', 'escape', false);
      RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    acc := acc || r.id || ' ' || r.f || ' ' || r.b || '; ';
  END LOOP;
  RETURN acc;
END $$;
GRANT EXECUTE ON FUNCTION pm_mid_fetch(refcursor), pm_mid_loop(text) TO PUBLIC;

\set q1 'SELECT t.id, t.f::text AS f, t.b::text AS b FROM pm_mid_t t JOIN pm_mid_k k ON k.id = t.id'
\set q2 :q1' AND k.id > 0'
\set q3 :q1' WHERE t.id > 1'
\set cte 'WITH c AS MATERIALIZED (SELECT id, f::text AS f, b::text AS b FROM pm_mid_t)'
\set qcte :cte' SELECT id, f, b FROM c'

------------------------------------------------------------------------------------------
-- Producers that change settings while they produce.
------------------------------------------------------------------------------------------
\c - pm_mid_alice
SET client_min_messages = warning;
-- (1) a streaming whole result through a NO SCROLL cursor, SET between FETCHes
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
FETCH 2 FROM c;
SET extra_float_digits = 0;
SET bytea_output = escape;
FETCH ALL FROM c;
COMMIT;
RESET extra_float_digits;
RESET bytea_output;
-- (2) a SCROLL cursor (the node keeps a local log), settings changed in a savepoint that is
-- rolled back after a FETCH
BEGIN;
DECLARE c SCROLL CURSOR FOR :q2;
FETCH 2 FROM c;
SAVEPOINT s;
SET LOCAL extra_float_digits = 0;
SET LOCAL bytea_output = escape;
FETCH 2 FROM c;
ROLLBACK TO s;
FETCH ALL FROM c;
COMMIT;
-- (3) a function with a SET clause FETCHes the third row
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q3;
FETCH 1 FROM c;
SELECT pm_mid_fetch('c');
FETCH ALL FROM c;
COMMIT;
-- (4) an outer query calls set_config() per row while the MATERIALIZED CTE is pulled lazily
:cte SELECT id, f, b, set_config('extra_float_digits', CASE WHEN id >= 3 THEN '0' ELSE '1' END, true) AS efd FROM c;
-- what the CTE's site did (the first site with an outcome: the whole result is not shareable)
\set q4 :cte' SELECT id, f, b, set_config(''extra_float_digits'', CASE WHEN id >= 3 THEN ''0'' ELSE ''1'' END, true) AS efd FROM c'
SELECT pm_site(:'q4') AS cte_site;

-- bob, with alice's original settings, reads the same plans (cursors are planned for a first
-- fraction of rows: the same cursor kinds): stock's rows, not alice's new text.
\c - pm_mid_bob
SET client_min_messages = warning;
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
FETCH ALL FROM c;
CLOSE c;
DECLARE c SCROLL CURSOR FOR :q2;
FETCH ALL FROM c;
CLOSE c;
DECLARE c NO SCROLL CURSOR FOR :q3;
FETCH ALL FROM c;
COMMIT;
:qcte;
SET parallel_material.enable = off;
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
FETCH ALL FROM c;
CLOSE c;
DECLARE c SCROLL CURSOR FOR :q2;
FETCH ALL FROM c;
CLOSE c;
DECLARE c NO SCROLL CURSOR FOR :q3;
FETCH ALL FROM c;
COMMIT;
:qcte;
RESET parallel_material.enable;

------------------------------------------------------------------------------------------
-- Readers whose settings change while they read: stock's text, or an error.
------------------------------------------------------------------------------------------
-- Clean entries, produced by bob with the default settings throughout.
\c - postgres
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
SELECT pm_wait_tracking('pm_mid_t'), pm_wait_tracking('pm_mid_k');
\c - pm_mid_bob
SET client_min_messages = warning;
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
MOVE ALL IN c;
CLOSE c;
DECLARE c SCROLL CURSOR FOR :q2;
MOVE ALL IN c;
CLOSE c;
DECLARE c NO SCROLL CURSOR FOR :q3;
MOVE ALL IN c;
COMMIT;
SELECT pm_site(:'qcte') AS cte_whole_result;
\c - pm_mid_carol
SET client_min_messages = warning;
-- (5) a hit through a NO SCROLL cursor (rows returned in place), SET between FETCHes
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
FETCH 2 FROM c;
SET LOCAL extra_float_digits = 0;
FETCH 2 FROM c;
ROLLBACK;
-- (6) a hit through a SCROLL cursor (rows copied into the node's log)
BEGIN;
DECLARE c SCROLL CURSOR FOR :q2;
FETCH 2 FROM c;
SET LOCAL bytea_output = escape;
FETCH 2 FROM c;
ROLLBACK;
-- (7) a function with a SET clause FETCHes from a hit
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q3;
FETCH 1 FROM c;
SELECT pm_mid_fetch('c');
ROLLBACK;
-- (8) set_config() per row of an outer query over a MATERIALIZED CTE that hits
:cte SELECT id, f, b, set_config('extra_float_digits', CASE WHEN id >= 3 THEN '0' ELSE '1' END, true) AS efd FROM c;
-- (9) settings changed and restored (a subtransaction rolled back) between two pulls of a hit:
-- nothing to do, the rows are stock's
SELECT pm_mid_loop(:'q1');
-- the same reads, stock
SET parallel_material.enable = off;
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q1;
FETCH 2 FROM c;
SET LOCAL extra_float_digits = 0;
FETCH 2 FROM c;
ROLLBACK;
BEGIN;
DECLARE c SCROLL CURSOR FOR :q2;
FETCH 2 FROM c;
SET LOCAL bytea_output = escape;
FETCH 2 FROM c;
ROLLBACK;
BEGIN;
DECLARE c NO SCROLL CURSOR FOR :q3;
FETCH 1 FROM c;
SELECT pm_mid_fetch('c');
ROLLBACK;
:cte SELECT id, f, b, set_config('extra_float_digits', CASE WHEN id >= 3 THEN '0' ELSE '1' END, true) AS efd FROM c;
SELECT pm_mid_loop(:'q1');
RESET parallel_material.enable;
-- The entries were not spoiled by the readers: ready, and read (the rows above are theirs).
\c - postgres
SELECT count(*) > 0 AS entries, count(*) FILTER (WHERE state <> 'ready') AS not_ready,
       bool_or(hits > 0) AS read
  FROM parallel_material.shared_results WHERE query LIKE '%pm_mid_t%';
SET client_min_messages = warning;
DROP TABLE pm_mid_t, pm_mid_k;
DROP FUNCTION pm_mid_fetch(refcursor);
DROP FUNCTION pm_mid_loop(text);
DROP FUNCTION pm_site(text);
DROP FUNCTION pm_wait_tracking(regclass);
DROP ROLE pm_mid_alice;
DROP ROLE pm_mid_bob;
DROP ROLE pm_mid_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
