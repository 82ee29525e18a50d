# 004_parallel_worker_killed.pl — a parallel query whose participants share one ParallelMaterial
# log, hit while a participant produces it: a parallel worker terminated (clean error, session
# usable), the leader cancelled (clean error, no temp files), and a worker killed with SIGKILL
# (crash restart, never a hang, no spill file survives, correct results afterwards).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('workers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
max_worker_processes = 8
max_parallel_workers = 4
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE big AS SELECT g AS id, g % 100 AS b FROM generate_series(1, 100000) g;
	CREATE TABLE mid AS SELECT g AS id FROM generate_series(1, 4000) g;
	ALTER TABLE mid SET (parallel_workers = 0);
	ANALYZE big, mid;
});

my $settings = q{
	SET parallel_material.enable = on;
	SET parallel_material.memory_limit = '64kB';
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
};
# The SubPlan's child (an aggregate over a triangular self-join) takes seconds: long enough to
# hit it while it is being produced.
my $slow = q{SELECT count(*) FROM big WHERE b < ALL (SELECT count(*) FROM mid m1 JOIN mid m2 ON m1.id < m2.id GROUP BY m1.id % 500);};
my $plan = $node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $slow");
like($plan, qr/Parallel Custom Scan \(ParallelMaterial\)/, 'the SubPlan is shared by the participants');
like($plan, qr/Mode: shared, one producer/, 'one participant produces');

# Starts the slow query in a background session and waits until its workers run.
sub start_slow {
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe($settings);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\n$slow\n");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker'"),
		'parallel workers run');
	return ($bg, $pid);
}

# 1. A worker terminated mid-production: the query ends with that error; the session goes on.
my ($bg, $pid) = start_slow();
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker'");
my $after = $bg->query('SELECT 7 AS alive');
like($after, qr/7/, 'the session answers after its worker was terminated');
like($bg->{stderr}, qr/terminating background worker "parallel worker" due to administrator command/,
	'the termination is reported as the query\'s error');
$bg->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file left after the terminated worker');

# 2. The leader cancelled while a participant produces: every producer stops promptly.
($bg, $pid) = start_slow();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$after = $bg->query('SELECT 8 AS alive');
like($after, qr/8/, 'the cancelled session answers the next query');
like($bg->{stderr}, qr/canceling statement due to user request/, 'cancel reported as such');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE leader_pid = $pid"),
	'no parallel worker of the cancelled query survives');
$bg->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file left after the cancel');

# 3. SIGKILL on a worker: the postmaster restarts every backend; the client gets an error, not a
#    hang; the server comes back with no spill file; results are right again.
($bg, $pid) = start_slow();
my $wpid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker' LIMIT 1");
my $log_offset = -s $node->logfile;
kill 'KILL', $wpid;
# psql has usually exited with its killed connection already: quit's "\q" then meets a closed
# pipe (EPIPE: the script died with status 32 on 17 under load).
eval { $bg->quit; };
# Until the postmaster has noticed the death, 'SELECT 1' may still succeed: wait for its reset.
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash restart');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file survives the crash restart');
my $small = q{SELECT count(*) FROM big WHERE b < ALL (SELECT count(*) / 100 FROM mid m1 JOIN mid m2 ON m1.id < m2.id AND m2.id < 300 GROUP BY m1.id % 50);};
my $stock = $node->safe_psql('postgres', "SET max_parallel_workers_per_gather = 0; $small");
is($node->safe_psql('postgres', "$settings $small"), $stock, 'the shared node gives stock\'s answer after the restart');

$node->stop;
done_testing();
