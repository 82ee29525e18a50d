-- shared_results_spill: a shared result larger than its entry's ring (parallel_material.
-- share_ring_max) spills its cold prefix to a file in the default tablespace's pgsql_tmp
-- directory and is still shared: the producer writes the file, a hit reads the spilled pages back
-- by path, the rows equal a run without the extension, the view shows the bytes in memory and
-- on disk, and the file is removed with the entry. share_max_bytes bounds ring + spill;
-- temp_file_limit bounds the file.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET parallel_material.share_whole_results = off;  -- Materialize nodes only (sql/shared_sites.sql covers whole results)
SET parallel_material.share_ring_max = '64kB';
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

-- An uncorrelated ALL SubPlan over a Materialize: 20000 rows of about 210 bytes (4.6 MB of
-- log), estimated as 100 rows (the ring is sized from the estimate, capped at 64 kB here).
CREATE TABLE sp_o (id int, pad text);
INSERT INTO sp_o VALUES (1, ''), (2, ''), (3, '');
CREATE TABLE sp_big (id int, k int, pad text);
INSERT INTO sp_big SELECT g, g % 200, repeat('x', 200) || g FROM generate_series(1, 20000) g;
CREATE TABLE sp_k AS SELECT g AS id FROM generate_series(0, 199) g;
ANALYZE sp_o, sp_big, sp_k;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sp_big'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;

\i sql/include/node_plan.psql
CREATE FUNCTION sp_node(q text, OUT sharing text, OUT rows_produced int, OUT child_loops int)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  node jsonb;
BEGIN
  SELECT p.plan, p.node INTO plan, node FROM pm_node_plan(q) p;
  sharing := node->>'Cross-Session Sharing';
  rows_produced := (node->>'Rows Produced')::int;
  child_loops := (node->'Plans'->0->>'Actual Loops')::int;
END $$;

-- pm_query_rows(q, ext): the query's rows (hashed in a fixed order) with the extension on or off.
\i sql/include/query_rows.psql

\set q 'SELECT o.id FROM sp_o o WHERE o.pad < ALL (SELECT b.pad FROM sp_big b WHERE b.id % 3 = b.id % 3 + 0)'
-- Produced: the ring is 64 kB, the rest went to the entry's spill file.
SELECT * FROM sp_node(:'q');
SELECT state, rows, bytes < 128 * 1024 AS ring_in_memory, spilled_bytes > 4000000 AS spilled,
       spill_file LIKE 'base/pgsql_tmp/pgsql_tmp_pmresult.%' AS in_pgsql_tmp,
       (pg_stat_file(spill_file)).size = spilled_bytes AS file_holds_the_spill
  FROM parallel_material.shared_results WHERE relations = ARRAY['sp_big'::regclass::oid];
SELECT spill_file AS first_file FROM parallel_material.shared_results
 WHERE relations = ARRAY['sp_big'::regclass::oid] \gset
-- A second run hits: every row comes from the entry (its spilled prefix read back by path).
SELECT * FROM sp_node(:'q');
SELECT hits FROM parallel_material.shared_results WHERE spill_file = :'first_file';
-- The answer over a spilled hit equals a run without the extension (the wrapped query has its
-- own fingerprint: its first run produces, its second hits).
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_produced;
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_hit;
-- Every row of a spilled shared result reaches the output: the Materialize is the inner side
-- of a nested loop whose 200 outer rows each match 100 of its 20000 rows.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
\set qjoin 'SELECT k.id, b.id, b.pad FROM sp_k k JOIN sp_big b ON b.k = k.id WHERE b.id % 3 = b.id % 3 + 0'
SELECT sharing FROM sp_node(:'qjoin');
SELECT sharing FROM sp_node(:'qjoin');
SELECT pm_query_rows(:'qjoin', true) = pm_query_rows(:'qjoin', false) AS same_join_rows_produced;
SELECT pm_query_rows(:'qjoin', true) = pm_query_rows(:'qjoin', false) AS same_join_rows_hit;
SELECT count(*) AS spilled_entries, bool_and(spilled_bytes > 4000000) AS all_spilled,
       sum(hits) AS hits
  FROM parallel_material.shared_results WHERE relations = ARRAY['sp_big'::regclass::oid];
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- Reset frees the entries: their spill files are removed.
SELECT parallel_material.reset_shared_results() >= 3 AS dropped;
SELECT pg_stat_file(:'first_file', true) IS NULL AS file_removed;
SELECT count(*) AS files_left FROM pg_ls_tmpdir() WHERE name LIKE 'pgsql_tmp_pmresult.%';

-- share_max_bytes bounds the whole log (ring + spill): over it, the producer gives up and runs
-- locally, and its partial file goes with the entry's log. The entry keeps the key, marked too
-- large, without memory or file: the next run of the same query over the same data skips
-- sharing at once instead of producing it again up to the bound.
SET parallel_material.share_max_bytes = '2MB';
SELECT * FROM sp_node(:'q');
SELECT state, bytes, rows, spilled_bytes, spill_file IS NULL AS no_file
  FROM parallel_material.shared_results;
SELECT count(*) AS files_left FROM pg_ls_tmpdir() WHERE name LIKE 'pgsql_tmp_pmresult.%';
SELECT * FROM sp_node(:'q');
SELECT state, hits FROM parallel_material.shared_results;
SELECT pm_query_rows(:'q', true) = pm_query_rows(:'q', false) AS same_rows_too_large;
-- New data is a new key: produced (and found too large) again.
INSERT INTO sp_big SELECT 100000 + g, g % 7, repeat('z', 100) FROM generate_series(1, 10) g;
SELECT * FROM sp_node(:'q');
SELECT count(*) FILTER (WHERE state = 'too large') AS too_large FROM parallel_material.shared_results;
SELECT parallel_material.reset_shared_results() >= 2 AS reset;
RESET parallel_material.share_max_bytes;

-- temp_file_limit bounds the spill file.
SET temp_file_limit = '1MB';
SELECT * FROM sp_node(:'q');
SELECT count(*) AS files_left FROM pg_ls_tmpdir() WHERE name LIKE 'pgsql_tmp_pmresult.%';
RESET temp_file_limit;

-- A result that fits its ring (at least 64 kB when the cap allows) has no spill file.
RESET parallel_material.share_ring_max;
\set qsmall 'SELECT o.id FROM sp_o o WHERE o.pad < ALL (SELECT b.pad FROM sp_big b WHERE b.id % 3 = b.id % 3 + 0 AND b.id <= 100)'
SELECT * FROM sp_node(:'qsmall');
SELECT rows, spilled_bytes, spill_file IS NULL AS no_file FROM parallel_material.shared_results;
SELECT * FROM sp_node(:'qsmall');

SELECT parallel_material.reset_shared_results() >= 0 AS reset;
DROP TABLE sp_o, sp_big, sp_k;
DROP FUNCTION sp_node(text), pm_query_rows(text, boolean), pm_node_plan(text);
