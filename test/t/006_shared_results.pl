# 006_shared_results.pl — the registry of shared results lives in shared memory: a producer that
# exits fails (and frees) its entry, a restart and a crash restart clear every entry, and
# shared_memory = 0 disables the registry. Data versions restart too (new tracking horizon).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shared_results');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION parallel_material');
my $count = 'SELECT count(*) FROM parallel_material.shared_results';

# A session producing an entry holds it; when the session ends, the entry is failed and freed.
my $bg = $node->background_psql('postgres');
is($bg->query_safe('SELECT parallel_material.debug_add_shared_result(5, -10)'), 'producing',
	'an entry is being produced');
is($node->safe_psql('postgres',
		"SELECT state || ' ' || readers FROM parallel_material.shared_results"),
	'producing 1', 'the view shows it producing, pinned by its producer');
$bg->quit;
ok($node->poll_query_until('postgres', $count, '0'),
	'the producer exited: its entry is gone');

# Ready entries survive sessions but not a restart.
$node->safe_psql('postgres', 'SELECT parallel_material.debug_add_shared_result(1, 100)');
$node->safe_psql('postgres', 'SELECT parallel_material.debug_add_shared_result(2, 100)');
is($node->safe_psql('postgres', $count), '2', 'two ready entries');
$node->restart;
is($node->safe_psql('postgres', $count), '0', 'a restart clears every entry');

# A crash restart (a backend killed with SIGKILL) clears them too.
$node->safe_psql('postgres', 'SELECT parallel_material.debug_add_shared_result(3, 100)');
is($node->safe_psql('postgres', $count), '1', 'one ready entry before the crash');
my $victim_session = $node->background_psql('postgres');
my $victim = $victim_session->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $victim;
eval { $victim_session->quit; };    # psql may have exited already (EPIPE)
# Polling rides out the crash restart (connection failures are retried); the entry was there
# until the crash, so reaching 0 means the restart cleared it.
ok($node->poll_query_until('postgres', $count, '0'), 'a crash restart clears every entry');
like($node->safe_psql('postgres',
		"SELECT pg_postmaster_start_time() < now() AND pg_backend_pid() <> $victim"),
	qr/^t$/, 'cluster back after the crash');

# Data versions are shared memory too: after the crash the table starts again, and a table
# written before it reads version 0 in the new lifetime (all its earlier commits are visible to
# every snapshot of the new lifetime).
$node->safe_psql('postgres', 'CREATE TABLE t (a int); INSERT INTO t VALUES (1)');
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('t') IS NOT NULL", 't'),
	'data versions work after the crash');
is($node->safe_psql('postgres', "SELECT parallel_material.data_version('t')"), '1',
	'the insert after the crash is counted');

# shared_memory = 0: no registry, the view is empty, the test function says why.
$node->append_conf('postgresql.conf', "parallel_material.shared_memory = 0");
$node->restart;
is($node->safe_psql('postgres', $count), '0', 'no registry: empty view');
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT parallel_material.debug_add_shared_result(1, 1)');
like($err, qr/parallel_material.shared_memory is 0/, 'registry disabled by shared_memory = 0');

$node->stop;
done_testing();
