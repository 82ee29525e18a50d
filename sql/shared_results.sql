-- shared_results: the registry of results shared across sessions is in shared memory (the
-- library is preloaded here); the view lists its entries; a hit counts; reset empties it and is
-- superuser-only. Entries here come from a test function: the executor wire-up is not built.
SELECT parallel_material.reset_shared_results() >= 0 AS reset_ok;
SELECT count(*) AS entries FROM parallel_material.shared_results;
SELECT parallel_material.debug_add_shared_result(1, 100) AS fp1 \gset
SELECT parallel_material.debug_add_shared_result(2, 10) AS fp2 \gset
-- the same key again: a hit on the ready entry, no new entry
SELECT parallel_material.debug_add_shared_result(1, 100) = :'fp1' AS same_key;
SELECT fingerprint = :'fp1' AS is_fp1, query, relations, rows, hits, readers, state,
       bytes > 0 AS has_log, age >= interval '0' AS aged, producer_pid = pg_backend_pid() AS mine
  FROM parallel_material.shared_results ORDER BY rows DESC;
SET ROLE pg_monitor;
SELECT count(*) AS visible_to_others FROM parallel_material.shared_results;
SELECT parallel_material.reset_shared_results();
SELECT parallel_material.debug_add_shared_result(3, 1);
RESET ROLE;
SELECT parallel_material.reset_shared_results() AS dropped;
SELECT count(*) AS entries_after_reset FROM parallel_material.shared_results;
SHOW parallel_material.shared_memory;
