-- attack_share_records: anonymous record values (ROW(...), array_agg(ROW(...)), a whole-row
-- reference to a subquery) carry the record typmod of the backend that built them; another
-- backend reading them from a shared result decodes them with its own typmod cache (issue 12,
-- item 1). alice registers other anonymous record types first, so that her typmods differ from
-- a fresh session's, and produces the results; bob, in a new session, runs the same statements
-- and must get stock's rows (on the unfixed code: "record type has not been registered", or,
-- when his own cache holds other types under those typmods, wrong rows or a crash). A named
-- composite (a table's row type) carries no typmod and stays shared: carol hits it.
SET client_min_messages = warning;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
CREATE ROLE pm_rec_alice LOGIN;
CREATE ROLE pm_rec_bob LOGIN;
CREATE ROLE pm_rec_carol LOGIN;
ALTER ROLE pm_rec_alice SET parallel_material.enable = on;
ALTER ROLE pm_rec_bob SET parallel_material.enable = on;
ALTER ROLE pm_rec_carol SET parallel_material.enable = on;
ALTER ROLE pm_rec_alice SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_rec_alice SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_rec_bob SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_rec_bob SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_rec_carol SET parallel_material.share_across_sessions = on;
ALTER ROLE pm_rec_carol SET parallel_material.share_min_cost = 0;
ALTER ROLE pm_rec_alice SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_rec_bob SET max_parallel_workers_per_gather = 0;
ALTER ROLE pm_rec_carol SET max_parallel_workers_per_gather = 0;

CREATE TABLE pm_rec_t (id int, n text, v int);
INSERT INTO pm_rec_t SELECT g, 'n' || g, g * 10 FROM generate_series(1, 4) g;
ANALYZE pm_rec_t;
GRANT SELECT ON pm_rec_t TO pm_rec_alice, pm_rec_bob, pm_rec_carol;
\i sql/include/attack_share.psql
SELECT pm_wait_tracking('pm_rec_t');

\set qrow 'SELECT id, ROW(id, n) AS r FROM pm_rec_t ORDER BY id'
\set qagg 'SELECT v > 20 AS big, array_agg(ROW(n, v) ORDER BY id) AS a FROM pm_rec_t GROUP BY v > 20 ORDER BY 1'
\set qwhole 'SELECT s FROM (SELECT id, n FROM pm_rec_t OFFSET 0) s ORDER BY s.id'
\set qnamed 'SELECT t FROM pm_rec_t t ORDER BY t.id'

-- alice: three other anonymous record types first, then the results.
\c - pm_rec_alice
SET client_min_messages = warning;
SELECT ROW(1::int2, 2::int2), ROW('x'::text, 1::int8, 2::int8), ROW(1.5::numeric, 'y'::bytea);
SELECT pm_site(:'qrow') AS alice_row, pm_site(:'qagg') AS alice_agg,
       pm_site(:'qwhole') AS alice_whole, pm_site(:'qnamed') AS alice_named;

-- bob: a fresh session; stock's rows, no error.
\c - pm_rec_bob
SET client_min_messages = warning;
:qrow;
:qagg;
:qwhole;
:qnamed;
SET parallel_material.enable = off;
:qrow;
:qagg;
:qwhole;
RESET parallel_material.enable;

-- bob again, in a session whose typmod cache holds four other anonymous record types under the
-- typmods alice's results carry (on the unfixed code this crashed the server or read another
-- entry's bytes): stock's rows.
\c - pm_rec_bob
SET client_min_messages = warning;
SELECT ROW('a'::bytea, 'b'::bytea), ROW(1::int8, 'z'::text), ROW(now() IS NULL, 2::int4),
       ROW(3::int4, 4::int4, 5::int4);
:qrow;
:qagg;
:qwhole;

-- carol: the named composite result is shared with her.
\c - pm_rec_carol
SET client_min_messages = warning;
SELECT pm_site(:'qnamed') AS carol_named;
:qnamed;

-- Why the others are not shared.
\c - postgres
SET client_min_messages = warning;
SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;  -- small test tables: share cheap plans too
SET max_parallel_workers_per_gather = 0;
SELECT verdict FROM parallel_material.share_verdicts(:'qrow');
SELECT verdict FROM parallel_material.share_verdicts(:'qagg');
SELECT verdict FROM parallel_material.share_verdicts(:'qwhole');
SELECT verdict FROM parallel_material.share_verdicts(:'qnamed');
-- Inside the subtree only (the output is a plain boolean): a whole-row reference to a subquery
-- is still refused; an anonymous record built and consumed inside is not stored and is fine.
SELECT verdict FROM parallel_material.share_verdicts('SELECT s IS NOT NULL AS ok FROM (SELECT id, n FROM pm_rec_t OFFSET 0) s ORDER BY s.id');
SELECT verdict FROM parallel_material.share_verdicts('SELECT count(DISTINCT ROW(id, n)) FROM pm_rec_t');
DROP TABLE pm_rec_t;
DROP FUNCTION pm_site(text);
DROP FUNCTION pm_wait_tracking(regclass);
DROP ROLE pm_rec_alice;
DROP ROLE pm_rec_bob;
DROP ROLE pm_rec_carol;
SELECT parallel_material.reset_shared_results() >= 0 AS reset;
