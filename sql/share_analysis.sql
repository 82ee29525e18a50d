-- share_analysis: which ParallelMaterial children may be shared across sessions, and why not
-- (EXPLAIN VERBOSE says "Cross-Session Sharing: ..."), and the plan fingerprint: equal for the same subplan
-- written differently (spacing, comments, other queries around it), different for other
-- constants or other tables.
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
-- Materialize nodes only here (sql/shared_sites.sql covers whole results, CTEs, InitPlans).
SET parallel_material.share_whole_results = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET max_parallel_workers_per_gather = 0;

CREATE TABLE sa_a (id int, grp int, owner text, ts timestamptz);
CREATE TABLE sa_b (id int, grp int, owner text, ts timestamptz);
CREATE TABLE sa_c (id int, grp int, owner text, ts timestamptz);
INSERT INTO sa_a SELECT g, g % 5, 'u' || g, '2024-01-01'::timestamptz + g * interval '1 day' FROM generate_series(1, 50) g;
INSERT INTO sa_b SELECT * FROM sa_a;
INSERT INTO sa_c SELECT * FROM sa_a;
ANALYZE sa_a, sa_b, sa_c;

-- An inner of plain tables and constants: eligible.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.grp = b.grp AND a.id < b.id WHERE b.grp < 3;

-- An uncorrelated SubPlan's Material: eligible; a Material whose child depends on the outer row
-- (LATERAL): not shared.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM sa_a a WHERE a.id > ALL (SELECT b.id FROM sa_b b WHERE b.grp = 1);
SET enable_memoize = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, s.id FROM sa_a a,
       LATERAL (SELECT b.id FROM sa_b b JOIN sa_c c ON b.id < c.id WHERE c.grp = a.grp OFFSET 0) s;
RESET enable_memoize;

-- Session-dependent or volatile expressions in the inner.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.ts < now();
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.owner <> current_user;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.r FROM sa_a a JOIN (SELECT id, random() AS r FROM sa_b) b ON a.id < b.id;
-- to_char(timestamptz) depends on the session's TimeZone and DateStyle: stable, not shared.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE to_char(b.ts, 'YYYY') <> '1999';

-- Tables that are never shared.
CREATE TEMP TABLE sa_temp AS SELECT * FROM sa_b;
CREATE UNLOGGED TABLE sa_unlogged AS SELECT * FROM sa_b;
CREATE TABLE sa_rls AS SELECT * FROM sa_b;
ALTER TABLE sa_rls ENABLE ROW LEVEL SECURITY;
ANALYZE sa_temp, sa_unlogged, sa_rls;
EXPLAIN (VERBOSE, COSTS OFF) SELECT a.id, t.id FROM sa_a a JOIN sa_temp t ON a.id < t.id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT a.id, t.id FROM sa_a a JOIN sa_unlogged t ON a.id < t.id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT a.id, t.id FROM sa_a a JOIN sa_rls t ON a.id < t.id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, n.nspname FROM sa_a a JOIN pg_namespace n ON a.id < n.oid::int;

-- Row locks, and a result estimated larger than share_max_bytes.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id FOR UPDATE OF a;
SET parallel_material.share_max_bytes = 0;
EXPLAIN (VERBOSE, COSTS OFF) SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id;
RESET parallel_material.share_max_bytes;

-- Off: no Sharing line at all.
SET parallel_material.share_across_sessions = off;
EXPLAIN (VERBOSE, COSTS OFF) SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id;
SET parallel_material.share_across_sessions = on;

-- Fingerprints.
SELECT verdict, fingerprint ~ '^[0-9a-f]{32}$' AS looks_like_128_bits
  FROM parallel_material.share_verdicts('SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.grp = 1');
SELECT fingerprint AS fp1 FROM parallel_material.share_verdicts(
  'SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.grp = 1') \gset
-- the same inner, written differently and with a different outer query: same fingerprint
SELECT fingerprint = :'fp1' AS same_inner_same_fingerprint FROM parallel_material.share_verdicts(
  'SELECT   a.grp,b.id   -- a comment
     FROM sa_a a JOIN sa_b b ON a.id < b.id + 0 * a.id WHERE b.grp = 1 AND a.grp > 0');
-- another constant: another fingerprint
SELECT fingerprint <> :'fp1' AS other_constant_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.grp = 2');
-- another table with the same shape: another fingerprint
SELECT fingerprint <> :'fp1' AS other_table_other_fingerprint FROM parallel_material.share_verdicts(
  'SELECT a.id, c.id FROM sa_a a JOIN sa_c c ON a.id < c.id WHERE c.grp = 1');
-- a prepared statement's custom plan folds the bound value in: like the literal
PREPARE sa_q(int) AS SELECT a.id, b.id FROM sa_a a JOIN sa_b b ON a.id < b.id WHERE b.grp = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE sa_q(1);
-- a generic plan keeps $1: not shared (parameter values are not part of the key yet)
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE sa_q(1);
RESET plan_cache_mode;
DEALLOCATE sa_q;

DROP TABLE sa_a, sa_b, sa_c, sa_temp, sa_unlogged, sa_rls;
