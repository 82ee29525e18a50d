-- attack_share_settings: a shared result must not carry text that depends on the producing
-- session's settings (issue 12, item 2). Three login roles: alice produces the whole result of
-- queries whose text output depends on extra_float_digits (float8out), bytea_output (byteaout),
-- quote_all_identifiers (quote_ident) and TimeZone (XML serialization of a timestamptz), with
-- those settings changed; bob, with the defaults, runs the same statements in a new session and
-- must get stock's text (on the unfixed code he got alice's); carol, with alice's settings and
-- another work_mem (irrelevant to results), still hits alice's entries.
SET client_min_messages = warning;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
CREATE ROLE pm_set_alice LOGIN;
CREATE ROLE pm_set_bob LOGIN;
CREATE ROLE pm_set_carol LOGIN;
ALTER ROLE pm_set_alice SET parallel_material.enable = on;
ALTER ROLE pm_set_bob SET parallel_material.enable = on;
ALTER ROLE pm_set_carol SET parallel_material.enable = on;
ALTER ROLE pm_set_alice SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_set_alice SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_set_bob SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_set_bob SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_set_carol SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_set_carol SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_set_alice SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_set_bob SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_set_carol SET max_parallel_workers_per_gather = 0;

CREATE TABLE pm_set_t (id int, f float8, b bytea, n text, ts timestamptz);
INSERT INTO pm_set_t VALUES
  (1, 0.1, '\x00ff41', 'plain', '2024-03-01 12:00:00+00'),
  (2, 1e-7 / 3, '\x5c27', 'Mixed Case', '2024-07-01 23:30:00+00');
ANALYZE pm_set_t;
GRANT SELECT ON pm_set_t TO pm_set_alice, pm_set_bob, pm_set_carol;
\i sql/include/attack_share.psql
SELECT pm_wait_tracking('pm_set_t');

\set qf 'SELECT id, (f + 0.2)::text AS f FROM pm_set_t ORDER BY id'
\set qb 'SELECT id, b::text AS b FROM pm_set_t ORDER BY id'
\set qq 'SELECT id, quote_ident(n) AS q FROM pm_set_t ORDER BY id'
\set qx 'SELECT id, xmlelement(name t, ts) AS x FROM pm_set_t ORDER BY id'

-- alice: other output settings; each query produces a shared entry.
\c - pm_set_alice
SET client_min_messages = warning;
SET extra_float_digits = 0;
SET bytea_output = escape;
SET quote_all_identifiers = on;
SET TimeZone = 'Asia/Tokyo';
SELECT pm_site(:'qf') AS alice_f, pm_site(:'qb') AS alice_b, pm_site(:'qq') AS alice_q,
       pm_site(:'qx') AS alice_x;
:qf;
:qb;
:qq;
:qx;

-- bob: alice's settings but one, for each query; he must get stock's text, not alice's.
\c - pm_set_bob
SET client_min_messages = warning;
SET bytea_output = escape;
SET quote_all_identifiers = on;
SET TimeZone = 'Asia/Tokyo';
:qf;
SET parallel_material.enable = off;
:qf;
RESET parallel_material.enable;
SET extra_float_digits = 0;
RESET bytea_output;
:qb;
SET parallel_material.enable = off;
:qb;
RESET parallel_material.enable;
SET bytea_output = escape;
RESET quote_all_identifiers;
:qq;
SET parallel_material.enable = off;
:qq;
RESET parallel_material.enable;
SET quote_all_identifiers = on;
RESET TimeZone;
:qx;
SET parallel_material.enable = off;
:qx;
RESET parallel_material.enable;

-- carol: alice's settings exactly (and another work_mem): the entries are shared with her.
\c - pm_set_carol
SET client_min_messages = warning;
SET extra_float_digits = 0;
SET bytea_output = escape;
SET quote_all_identifiers = on;
SET TimeZone = 'Asia/Tokyo';
SET work_mem = '8MB';
SELECT pm_site(:'qf') AS carol_f, pm_site(:'qb') AS carol_b, pm_site(:'qq') AS carol_q,
       pm_site(:'qx') AS carol_x;

\c - postgres
SET client_min_messages = warning;
DROP TABLE pm_set_t;
DROP FUNCTION pm_site(text);
DROP FUNCTION pm_wait_tracking(regclass);
DROP ROLE pm_set_alice;
DROP ROLE pm_set_bob;
DROP ROLE pm_set_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
