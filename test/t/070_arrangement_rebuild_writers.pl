# 070_arrangement_rebuild_writers.pl — issue 16, item 3: after a restart, the lazy rebuild of an
# arrangement started by a role that may write the table (here not its owner) runs concurrently:
# while it is held in the middle of its heap scan (parallel_material.debug_build_pause, an
# advisory lock the test holds), another role's INSERT, UPDATE and DELETE and the owner's writes
# complete at once, in their own transactions, and after the rebuild the arrangement equals the
# heap. On the earlier code the rebuild held ShareLock until the rebuilding transaction ended, so
# every writer waited (here: its statement_timeout of 5s fired).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('arrangement_rebuild_writers');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\n"
	  . "parallel_material.arrangement_memory = '32MB'\nmax_parallel_workers_per_gather = 0\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE arr_owner LOGIN;
CREATE ROLE arr_rebuilder LOGIN;
CREATE ROLE arr_writer LOGIN;
CREATE TABLE t (id int, k int, v text);
ALTER TABLE t OWNER TO arr_owner;
INSERT INTO t SELECT g, g % 50, repeat('v', 50) || g FROM generate_series(1, 3000) g;
CREATE TABLE o (k int);
INSERT INTO o SELECT g FROM generate_series(0, 60) g;
ANALYZE t, o;
GRANT SELECT, UPDATE ON t TO arr_rebuilder;
GRANT SELECT, INSERT, UPDATE, DELETE ON t TO arr_writer;
GRANT SELECT ON o TO PUBLIC;
SELECT parallel_material.create_arrangement('t', ARRAY['k']);
});
# The test setting for the rebuilding role (where it does not exist, the rebuild is not held).
$node->psql('postgres', "ALTER ROLE arr_rebuilder SET parallel_material.debug_build_pause = 7070");

$node->restart;
is($node->safe_psql('postgres',
		"SELECT state FROM parallel_material.arrangements WHERE relation = 't'::regclass"),
	'invalid', 'after the restart the arrangement is not built');

my $admin = $node->background_psql('postgres', on_error_stop => 1);
$admin->query_safe('SELECT pg_advisory_lock(7070)');

# The rebuilder (UPDATE on t, not the owner) reads through the arrangement in an open
# transaction: the read rebuilds it, and the build waits mid-scan for the advisory lock.
my $rebuilder = $node->background_psql('postgres', on_error_stop => 0,
	extra_params => [ '-U', 'arr_rebuilder' ]);
my $rpid = $rebuilder->query_safe('SELECT pg_backend_pid()');
$rebuilder->query_safe('BEGIN');
$rebuilder->query_until(qr/started/,
	"\\echo started\nSELECT count(*) AS rebuilt_rows FROM parallel_material.arrangement_rows('t');\n");
ok($node->poll_query_until('postgres',
		"SELECT (SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $rpid) "
		  . "OR (SELECT state = 'idle in transaction' FROM pg_stat_activity WHERE pid = $rpid)"),
	'the rebuild is under way (held mid-scan) or done in the open transaction');
is($node->safe_psql('postgres',
		"SELECT phase, blocks_done > 0 FROM parallel_material.arrangement_build_progress WHERE pid = $rpid"),
	'scanning table|t', 'the rebuild is held in the middle of its heap scan');

# Another role's writes, each in its own transaction, complete without waiting.
my ($ret, $out, $err) = $node->psql('postgres', q{
SET statement_timeout = '5s';
INSERT INTO t VALUES (5001, 7, 'w1'), (5002, 49, 'w2');
UPDATE t SET v = 'upd', k = k + 1 WHERE id IN (1, 2, 2990);
DELETE FROM t WHERE id IN (3, 4, 2995);
BEGIN; INSERT INTO t VALUES (5003, 8, 'rolled back'); DELETE FROM t WHERE id = 5; ROLLBACK;
}, extra_params => [ '-U', 'arr_writer' ]);
is($ret, 0, "another role's INSERT, UPDATE and DELETE do not wait for the rebuild");
is($err, '', 'no error (no statement timeout)');
($ret, $out, $err) = $node->psql('postgres', q{
SET statement_timeout = '5s';
INSERT INTO t VALUES (6001, 9, 'owner');
UPDATE t SET v = 'owner' WHERE id = 10;
}, extra_params => [ '-U', 'arr_owner' ]);
is($ret, 0, "the owner's writes do not wait either");
is($node->safe_psql('postgres', "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $rpid"),
	'Lock', 'the rebuild was still held meanwhile');

$admin->query_safe('SELECT pg_advisory_unlock(7070)');
my $rows = $rebuilder->query('SELECT 1');
like($rows, qr/3000/, 'the rebuild completes (rows of its own snapshot)');
$rebuilder->query_safe('COMMIT');
is($rebuilder->{stderr}, '', 'no error for the rebuilder');
$rebuilder->quit;
$admin->quit;

is($node->safe_psql('postgres',
		"SELECT state FROM parallel_material.arrangements WHERE relation = 't'::regclass"),
	'ready', 'the arrangement is ready');
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_check('t')"),
	'0', 'arrangement_check: the arrangement equals the heap');
my $join = 'SELECT o.k, a.id, a.v FROM o JOIN t a ON a.k = o.k ORDER BY 1, 2, 3';
my $settings = 'SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;';
like($node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $join"), qr/ArrangementJoin/,
	'the join reads the arrangement');
is($node->safe_psql('postgres', "$settings $join"),
	$node->safe_psql('postgres', "SET parallel_material.enable_arrangement_join = off; $join"),
	'the join through the arrangement returns the stock join');
$node->stop;
done_testing();
