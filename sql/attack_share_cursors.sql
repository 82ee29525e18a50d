-- attack_share_cursors (issue 12, cursors and plans): with share_across_sessions on, a cursor
-- declared without SCROLL over a plan that supports backward scans must scroll as in stock
-- (PostgreSQL makes such a cursor scrollable: FETCH BACKWARD, MOVE BACKWARD, FETCH ABSOLUTE,
-- FETCH PRIOR; PL/pgSQL and cursor_to_xml rely on it), for the role that produces the shared
-- result and for another role whose run reads it; and a SELECT the planner already knows cannot
-- be shared gets stock's plan, with no node added above it.
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
CREATE ROLE pm_cur_alice LOGIN;
CREATE ROLE pm_cur_bob LOGIN;
CREATE ROLE pm_cur_carol LOGIN;
CREATE TABLE cur_t (id int, grp int, qty numeric);
INSERT INTO cur_t SELECT g, g % 7, (g % 13) * 1.5 FROM generate_series(1, 2000) g;
ANALYZE cur_t;
GRANT SELECT ON cur_t TO pm_cur_alice, pm_cur_bob, pm_cur_carol;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('cur_t'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

-- Every move of a cursor opened (without SCROLL) on q, as text: one element per FETCH/MOVE.
-- Run with the extension off (stock), and with sharing on.
CREATE FUNCTION cur_moves(q text, share boolean) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE c refcursor := 'cur_moves_c'; r record; out text[] := '{}'; n int;
BEGIN
  PERFORM set_config('parallel_material.enable', share::text, true);
  PERFORM set_config('parallel_material.share_across_sessions', share::text, true);
  OPEN c FOR EXECUTE q;
  FETCH FROM c INTO r;       out := out || r::text;
  FETCH FROM c INTO r;       out := out || r::text;
  FETCH FROM c INTO r;       out := out || r::text;
  FETCH BACKWARD FROM c INTO r; out := out || r::text;
  MOVE BACKWARD 1 FROM c;
  FETCH PRIOR FROM c INTO r; out := out || coalesce(r::text, 'none');
  FETCH ABSOLUTE 5 FROM c INTO r; out := out || r::text;
  FETCH LAST FROM c INTO r;  out := out || r::text;
  MOVE BACKWARD ALL FROM c;
  FETCH NEXT FROM c INTO r;  out := out || r::text;
  FETCH RELATIVE 2 FROM c INTO r; out := out || r::text;
  CLOSE c;
  RETURN out;
END $$;
GRANT EXECUTE ON FUNCTION cur_moves(text, boolean) TO PUBLIC;

\set qc 'SELECT grp, count(*) AS n, sum(qty) AS s FROM cur_t GROUP BY grp ORDER BY grp'

-- The producing role: a plain DECLARE without SCROLL, moved both ways.
SET SESSION AUTHORIZATION pm_cur_alice;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
BEGIN;
DECLARE c1 CURSOR FOR SELECT grp, count(*) AS n, sum(qty) AS s FROM cur_t GROUP BY grp ORDER BY grp;
FETCH 3 FROM c1;
FETCH BACKWARD 1 FROM c1;
MOVE BACKWARD 1 FROM c1;
FETCH PRIOR FROM c1;
FETCH ABSOLUTE 4 FROM c1;
FETCH ALL FROM c1;
FETCH BACKWARD ALL FROM c1;
MOVE ABSOLUTE 0 IN c1;
FETCH 2 FROM c1;
COMMIT;
-- The whole result runs once more to its end: the entry is published.
:qc;
SELECT cur_moves(:'qc', true) = cur_moves(:'qc', false) AS alice_same_as_stock;
RESET SESSION AUTHORIZATION;
SELECT count(*) > 0 AS published FROM parallel_material.shared_results
 WHERE query LIKE '%FROM cur_t GROUP BY grp ORDER BY grp%' AND state = 'ready';

-- Another role: its cursor's run reads the entry alice's run published.
SET SESSION AUTHORIZATION pm_cur_bob;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
BEGIN;
DECLARE c2 CURSOR FOR SELECT grp, count(*) AS n, sum(qty) AS s FROM cur_t GROUP BY grp ORDER BY grp;
FETCH 2 FROM c2;
FETCH BACKWARD 2 FROM c2;
FETCH ABSOLUTE 6 FROM c2;
FETCH PRIOR FROM c2;
MOVE BACKWARD ALL IN c2;
FETCH NEXT FROM c2;
COMMIT;
SELECT cur_moves(:'qc', true) = cur_moves(:'qc', false) AS bob_same_as_stock;
RESET SESSION AUTHORIZATION;
SELECT hits > 0 AS bob_read_the_entry FROM parallel_material.shared_results
 WHERE query LIKE '%FROM cur_t GROUP BY grp ORDER BY grp%' AND state = 'ready';

-- A third role, with a plan whose root is a plain Sort over a join (no aggregate).
SET SESSION AUTHORIZATION pm_cur_carol;
SELECT cur_moves('SELECT a.id, b.grp FROM cur_t a JOIN cur_t b ON a.id = b.id + 1 WHERE a.id < 40 ORDER BY a.id DESC',
                 true)
     = cur_moves('SELECT a.id, b.grp FROM cur_t a JOIN cur_t b ON a.id = b.id + 1 WHERE a.id < 40 ORDER BY a.id DESC',
                 false) AS carol_same_as_stock;
RESET SESSION AUTHORIZATION;

-- A plan that cannot scan backward (a Gather) stays forward-only, as in stock.
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
BEGIN;
DECLARE c3 CURSOR FOR SELECT count(*) FROM cur_t;
FETCH c3;
FETCH BACKWARD c3;
ROLLBACK;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- ---- a SELECT that cannot be shared: stock's plan, no node above it ----
-- (share_verdicts still reports why; EXPLAIN shows no ParallelMaterial node.)
CREATE FUNCTION cur_nodes(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE plan jsonb; n int;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO plan;
  SELECT count(*) INTO n FROM jsonb_path_query(plan, 'strict $.**') AS value
   WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial';
  RETURN n;
END $$;
CREATE TEMP TABLE cur_tmp AS SELECT * FROM cur_t WHERE id < 100;
ANALYZE cur_tmp;
SELECT verdict FROM parallel_material.share_verdicts('SELECT grp, sum(qty) * random() FROM cur_t GROUP BY grp');
SELECT cur_nodes('SELECT grp, sum(qty) * random() FROM cur_t GROUP BY grp') AS volatile_nodes;
SELECT verdict FROM parallel_material.share_verdicts('SELECT grp, count(*) FROM cur_tmp GROUP BY grp');
SELECT cur_nodes('SELECT grp, count(*) FROM cur_tmp GROUP BY grp') AS temp_table_nodes;
EXPLAIN (COSTS OFF) SELECT grp, sum(qty) * random() FROM cur_t GROUP BY grp;
-- ... while a shareable one keeps its whole-result node.
SELECT cur_nodes(:'qc') AS shareable_nodes;
-- A transition table in a statement trigger: the trigger's SELECT is not shared, no node.
CREATE TABLE cur_log (n int, nodes int);
CREATE FUNCTION cur_trig() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE plan jsonb; n int;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) SELECT grp, count(*) FROM newrows GROUP BY grp' INTO plan;
  SELECT count(*) INTO n FROM jsonb_path_query(plan, 'strict $.**') AS value
   WHERE jsonb_typeof(value) = 'object' AND value->>'Custom Plan Provider' = 'ParallelMaterial';
  INSERT INTO cur_log SELECT (SELECT count(*) FROM (SELECT grp, count(*) FROM newrows GROUP BY grp) g), n;
  RETURN NULL;
END $$;
CREATE TRIGGER cur_trg AFTER INSERT ON cur_t REFERENCING NEW TABLE AS newrows
  FOR EACH STATEMENT EXECUTE FUNCTION cur_trig();
INSERT INTO cur_t VALUES (5000, 1, 1), (5001, 2, 2);
SELECT * FROM cur_log;

RESET parallel_material.enable;
RESET parallel_material.share_across_sessions;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
DROP TABLE cur_t, cur_log, cur_tmp;
DROP FUNCTION cur_moves(text, boolean), cur_nodes(text), cur_trig();
DROP ROLE pm_cur_alice, pm_cur_bob, pm_cur_carol;
