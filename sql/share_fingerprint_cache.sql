-- share_fingerprint_cache (issue 15): each backend remembers the fingerprints of the last plan
-- texts it printed, and reuses one only for a printed plan equal to it in full. Attack: the same
-- query text must not reuse a fingerprint when it plans to something else: another table by
-- search_path (two roles), a table dropped and created again, a column of another type; and two
-- plans that differ in one field next to a neutral one (varattno beside varattnosyn), or in a
-- constant of the same printed length, one right after the other, must get two fingerprints.
-- Neutral fields still do not count on a miss (another spacing of the same query). The queries
-- output no column of the table as is: such a column's TargetEntry prints the table's oid
-- (resorigtbl), which would tell the tables apart without the relation lines.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;
CREATE ROLE fpc_alice LOGIN;
CREATE ROLE fpc_bob LOGIN;
CREATE SCHEMA fpc_a AUTHORIZATION fpc_alice;
CREATE SCHEMA fpc_b AUTHORIZATION fpc_bob;
CREATE TABLE fpc_a.t (id int, a int, b int);
CREATE TABLE fpc_b.t (id int, a int, b int);
INSERT INTO fpc_a.t SELECT g, g % 3, g % 7 FROM generate_series(1, 30) g;
INSERT INTO fpc_b.t SELECT g, 100 + g % 3, g % 7 FROM generate_series(1, 30) g;
ALTER TABLE fpc_a.t OWNER TO fpc_alice;
ALTER TABLE fpc_b.t OWNER TO fpc_bob;
ANALYZE fpc_a.t, fpc_b.t;
GRANT USAGE ON SCHEMA parallel_material TO fpc_alice, fpc_bob;
GRANT EXECUTE ON FUNCTION parallel_material.share_verdicts(text) TO fpc_alice, fpc_bob;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;

-- The same text, twice in a row (the second from the cache): one fingerprint; another spacing
-- and a comment (other locations: a miss, normalized): the same one.
SET search_path = fpc_a;
SELECT fingerprint AS fp_a FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t') \gset
SELECT fingerprint = :'fp_a' AS same_text_same_fingerprint FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t');
SELECT fingerprint = :'fp_a' AS other_spacing_same_fingerprint FROM parallel_material.share_verdicts(
  'SELECT   sum(a),count(*)   -- a comment
     FROM t');

-- The same text under another search_path names another table: another fingerprint, by two
-- roles, and each role reads its own rows.
SET ROLE fpc_alice;
SET search_path = fpc_a;
SELECT fingerprint = :'fp_a' AS alice_same FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t');
SELECT sum(a), count(*) FROM t;
SELECT sum(a), count(*) FROM t;
RESET ROLE;
SET ROLE fpc_bob;
SET search_path = fpc_b;
SELECT fingerprint <> :'fp_a' AS bob_other_table_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t');
SELECT sum(a), count(*) FROM t;
RESET ROLE;
-- two entries (alice's, with her second run's hit, and bob's), one per table
SELECT relations = ARRAY['fpc_a.t'::regclass::oid] AS alice_table, hits FROM parallel_material.shared_results
  WHERE query = 'SELECT sum(a), count(*) FROM t' ORDER BY 1;

-- Two plans that differ only in the column read (varattno, printed beside the neutral
-- varattnosyn) under the same output name: two fingerprints, one right after the other.
SET search_path = fpc_a;
SELECT fingerprint AS fp_col_a FROM parallel_material.share_verdicts(
  'SELECT a AS x FROM t ORDER BY 1') \gset
SELECT fingerprint <> :'fp_col_a' AS other_column_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT b AS x FROM t ORDER BY 1');
SELECT fingerprint = :'fp_col_a' AS first_column_again_same FROM parallel_material.share_verdicts(
  'SELECT a AS x FROM t ORDER BY 1');
-- A constant of the same printed length: the printed plans have the same length.
SELECT fingerprint AS fp_c1 FROM parallel_material.share_verdicts(
  'SELECT id FROM t WHERE a = 1 ORDER BY id') \gset
SELECT fingerprint <> :'fp_c1' AS other_constant_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT id FROM t WHERE a = 2 ORDER BY id');

-- Large printed plans (an array constant of 15,000 or 25,000 elements prints 200-350 kB): the
-- cache keeps at most 512 kB, so the third evicts the first, and a text above 256 kB is not
-- kept; each is fingerprinted the same way again.
CREATE FUNCTION pg_temp.big_q(first int, n int) RETURNS text LANGUAGE sql AS $$
  SELECT 'SELECT id FROM t WHERE id = ANY (''{' || string_agg(g::text, ',') || '}''::int[]) ORDER BY id'
    FROM generate_series(first, first + n - 1) g $$;
SELECT fingerprint AS fp_big1 FROM parallel_material.share_verdicts(pg_temp.big_q(1, 15000)) \gset
SELECT fingerprint AS fp_big2 FROM parallel_material.share_verdicts(pg_temp.big_q(2, 15000)) \gset
SELECT fingerprint AS fp_big3 FROM parallel_material.share_verdicts(pg_temp.big_q(3, 15000)) \gset
SELECT :'fp_big1' <> :'fp_big2' AND :'fp_big2' <> :'fp_big3' AND :'fp_big1' <> :'fp_big3' AS big_all_different;
SELECT fingerprint = :'fp_big1' AS big1_again_same FROM parallel_material.share_verdicts(pg_temp.big_q(1, 15000));
SELECT fingerprint = :'fp_big3' AS big3_again_same FROM parallel_material.share_verdicts(pg_temp.big_q(3, 15000));
SELECT fingerprint AS fp_huge FROM parallel_material.share_verdicts(pg_temp.big_q(1, 25000)) \gset
SELECT fingerprint = :'fp_huge' AS huge_again_same, fingerprint <> :'fp_big1' AS huge_other
  FROM parallel_material.share_verdicts(pg_temp.big_q(1, 25000));
SELECT fingerprint = :'fp_col_a' AS small_after_big_same FROM parallel_material.share_verdicts(
  'SELECT a AS x FROM t ORDER BY 1');

-- The catalog changes under the same text: the table dropped and created again (another oid),
-- then a column of another type.
SELECT fingerprint AS fp_old FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t') \gset
DROP TABLE fpc_a.t;
CREATE TABLE fpc_a.t (id int, a int, b int);
INSERT INTO fpc_a.t SELECT g, g % 3, g % 7 FROM generate_series(1, 30) g;
ANALYZE fpc_a.t;
SELECT fingerprint <> :'fp_old' AS recreated_table_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t');
SELECT fingerprint AS fp_int FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t') \gset
ALTER TABLE fpc_a.t ALTER COLUMN a TYPE bigint;
ANALYZE fpc_a.t;
SELECT fingerprint <> :'fp_int' AS other_type_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT sum(a), count(*) FROM t');
SELECT sum(a), count(*) FROM t;

RESET search_path;
RESET ROLE;
DROP SCHEMA fpc_a CASCADE;
DROP SCHEMA fpc_b CASCADE;
REVOKE USAGE ON SCHEMA parallel_material FROM fpc_alice, fpc_bob;
REVOKE EXECUTE ON FUNCTION parallel_material.share_verdicts(text) FROM fpc_alice, fpc_bob;
DROP ROLE fpc_alice;
DROP ROLE fpc_bob;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
