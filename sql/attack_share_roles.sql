-- attack_share_roles (issue 12, class "query text"): what one login role can learn through the
-- shared result registry about another role's queries. share_alice runs a query over a table
-- only she may read, in one message with a SET carrying a secret; share_bob (no privileges)
-- must not see her statement text, key or relations in parallel_material.shared_results, and
-- data_version(), data_version_info(), share_keys() and share_verdicts() must refuse to answer
-- for her table; share_carol (pg_read_all_stats) sees her statement as pg_stat_activity would,
-- and only the statement itself, not the SET sent with it.
SET client_min_messages = warning;
CREATE ROLE share_alice LOGIN;
CREATE ROLE share_bob LOGIN;
CREATE ROLE share_carol LOGIN;
GRANT pg_read_all_stats TO share_carol;
CREATE TABLE sr_secret (id int, v text);
INSERT INTO sr_secret SELECT g, 'row' || g FROM generate_series(1, 100) g;
CREATE TABLE sr_cols (id int, v text);
GRANT SELECT ON sr_secret TO share_alice;
GRANT SELECT (id) ON sr_cols TO share_bob;
CREATE VIEW sr_view AS SELECT id FROM sr_secret WHERE id > 90;
GRANT SELECT ON sr_view TO share_bob;
ANALYZE sr_secret;
DO $$ BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN (SELECT skip_reason IS DISTINCT FROM 'snapshot older than the tracking horizon'
                 FROM parallel_material.data_version_info('sr_secret'));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

-- Alice: a shareable query and, in the same message, a SET with a secret literal.
SET ROLE share_alice;
SET application_name = 'hunter2-secret' \; SELECT count(*) AS n FROM sr_secret WHERE v <> 'hunter2-literal';
RESET application_name;
-- She sees her own entry in full: the statement only (not the SET sent with it).
SELECT query, relations = ARRAY['sr_secret'::regclass::oid] AS rels, rows, state
  FROM parallel_material.shared_results WHERE query LIKE '%sr_secret%';
RESET ROLE;

-- Bob: no privileges. The entry is listed (it takes memory), without its text, key, relations
-- or row count; nothing of the secret shows anywhere.
SET ROLE share_bob;
SELECT count(*) AS entries_with_secret FROM parallel_material.shared_results
 WHERE query LIKE '%hunter2%' OR query LIKE '%sr_secret%';
SELECT query, fingerprint IS NULL AS no_key, relations IS NULL AS no_rels, rows IS NULL AS no_rows,
       state, producer_role = 'share_alice'::regrole AS alices
  FROM parallel_material.shared_results WHERE producer_role = 'share_alice'::regrole;
-- The functions answer only for relations the caller may read (permission denied otherwise).
SELECT parallel_material.data_version('sr_secret');
SELECT * FROM parallel_material.data_version_info('sr_secret');
SELECT * FROM parallel_material.share_keys('SELECT count(*) FROM sr_secret');
SELECT * FROM parallel_material.share_verdicts('SELECT count(*) FROM sr_secret');
-- Through a view he may read, they answer: the view owner's privileges count, as in a query.
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(*) FROM sr_view');
-- A column privilege is enough for data_version (SELECT count(*) FROM sr_cols works for him).
SELECT count(*) FROM sr_cols;
SELECT parallel_material.data_version('sr_cols') IS NOT DISTINCT FROM parallel_material.data_version('sr_cols') AS answered;
RESET ROLE;

-- Carol (pg_read_all_stats) sees the statement, as pg_stat_activity shows it, without the SET.
SET ROLE share_carol;
SELECT query, relations = ARRAY['sr_secret'::regclass::oid] AS rels, rows
  FROM parallel_material.shared_results WHERE producer_role = 'share_alice'::regrole;
SELECT count(*) AS entries_with_secret FROM parallel_material.shared_results WHERE query LIKE '%hunter2-secret%';
RESET ROLE;

-- The superuser sees it too; the stock answer for reference.
SELECT query FROM parallel_material.shared_results WHERE producer_role = 'share_alice'::regrole;
SET parallel_material.enable = off;
SELECT count(*) AS n FROM sr_secret WHERE v <> 'hunter2-literal';
RESET parallel_material.enable;

SELECT parallel_material.reset_shared_results() >= 0 AS reset;
DROP VIEW sr_view;
DROP TABLE sr_secret, sr_cols;
DROP ROLE share_alice, share_bob, share_carol;
