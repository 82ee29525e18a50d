# 105_arrangement_parallel_build_fail.pl — issue 15, item 3: a parallel arrangement build
# (docs/arrangements.md, "Parallel build") that fails in the middle of its scan leaves nothing
# half-built and readable, no process behind, and the next build is exact. The rebuild (after a
# heap rewrite) is held with its two workers at an advisory lock (the test setting
# parallel_material.debug_build_pause), then:
#   1. one worker is terminated (pg_terminate_backend): its error reaches the leader, which stops
#      the other worker and drops the build;
#   2. the leader is cancelled (pg_cancel_backend): its workers are stopped with it;
#   3. one worker is killed with SIGKILL: the postmaster restarts the cluster (as for any backend
#      killed so) and the next read rebuilds the arrangement;
#   4. the table owner's memory quota runs out while the participants write.
# After each, the arrangement is not ready until rebuilt, and the rebuild equals the heap.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('arrangement_parallel_build_fail');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\n"
	  . "parallel_material.arrangement_memory = '64MB'\nmax_parallel_workers_per_gather = 0\n"
	  . "max_parallel_maintenance_workers = 2\nmin_parallel_table_scan_size = 0\n"
	  . "maintenance_work_mem = '128MB'\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE arr_owner LOGIN;
CREATE TABLE t (id int, k int, v text);
ALTER TABLE t OWNER TO arr_owner;
INSERT INTO t SELECT g, g % 50, repeat('v', 50) || g FROM generate_series(1, 20000) g;
ANALYZE t;
SELECT parallel_material.create_arrangement('t', ARRAY['k']);
ALTER ROLE arr_owner SET parallel_material.debug_build_pause = 7105;
});

my $state_sql = "SELECT coalesce(state, 'none') FROM parallel_material.arrangements "
  . "WHERE relation = 't'::regclass";
my $workers_sql = "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker')";

# Starts a rebuild held mid-scan with both workers; returns (admin, builder, builder pid, worker pids).
sub held_rebuild {
	$node->safe_psql('postgres', 'VACUUM FULL t');
	my $admin = $node->background_psql('postgres', on_error_stop => 0);
	$admin->query_safe('SELECT pg_advisory_lock(7105)');
	my $builder = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'arr_owner' ]);
	my $bpid = $builder->query_safe('SELECT pg_backend_pid()');
	$builder->query_until(qr/started/,
		"\\echo started\nSELECT count(*) FROM parallel_material.arrangement_rows('t');\n");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'parallel worker' "
			  . "AND wait_event = 'advisory' AND leader_pid = $bpid"),
		'the rebuild runs with two workers, held mid-scan');
	is($node->safe_psql('postgres',
			"SELECT phase FROM parallel_material.arrangement_build_progress WHERE pid = $bpid"),
		'scanning table', 'the leader reports the scan');
	is($node->safe_psql('postgres', $state_sql), 'building', 'not ready while it builds');
	my @wpids = split /\n/, $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE leader_pid = $bpid AND pid <> $bpid ORDER BY pid");
	return ($admin, $builder, $bpid, @wpids);
}

# The next read rebuilds it, exactly.
sub rebuilt_exactly {
	my ($what) = @_;
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM parallel_material.arrangement_rows('t')",
			extra_params => [ '-U', 'arr_owner' ]),
		$node->safe_psql('postgres', 'SELECT count(*) FROM t'), "$what: the next read rebuilds it");
	is($node->safe_psql('postgres', $state_sql), 'ready', "$what: ready again");
	is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_check('t')"),
		'0', "$what: arrangement_check: the rebuild equals the heap");
}

# 1. A worker fails.
{
	my ($admin, $builder, $bpid, @wpids) = held_rebuild();
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($wpids[0])");
	ok($node->poll_query_until('postgres',
			"SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $bpid"),
		'worker terminated: the build ends');
	$builder->query('SELECT 1');
	like($builder->{stderr}, qr/terminating background worker|parallel worker/,
		'worker terminated: its error reaches the leader');
	isnt($node->safe_psql('postgres', $state_sql), 'ready', 'worker terminated: not ready');
	ok($node->poll_query_until('postgres', "$workers_sql = 0"),
		'worker terminated: no worker left');
	is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_build_progress"),
		'0', 'worker terminated: no build reported');
	$admin->query_safe('SELECT pg_advisory_unlock(7105)');
	$builder->quit;
	$admin->quit;
	rebuilt_exactly('worker terminated');
}

# 2. The leader is cancelled.
{
	my ($admin, $builder, $bpid, @wpids) = held_rebuild();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($bpid)");
	ok($node->poll_query_until('postgres',
			"SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $bpid"),
		'cancel: the build ends');
	$builder->query('SELECT 1');
	like($builder->{stderr}, qr/canceling statement due to user request/, 'cancel: the error');
	isnt($node->safe_psql('postgres', $state_sql), 'ready', 'cancel: not ready');
	ok($node->poll_query_until('postgres', "$workers_sql = 0"), 'cancel: no worker left');
	$admin->query_safe('SELECT pg_advisory_unlock(7105)');
	$builder->quit;
	$admin->quit;
	rebuilt_exactly('cancel');
}

# 3. A worker is killed (SIGKILL): a crash restart.
{
	my $log_offset = -s $node->logfile;
	my ($admin, $builder, $bpid, @wpids) = held_rebuild();
	kill 'KILL', $wpids[0];
	# The sessions' connections die with the restart: quit's "\q" may meet a closed pipe.
	eval { $builder->quit; };
	eval { $admin->quit; };
	# Until the postmaster has noticed the death, 'SELECT 1' may still succeed: wait for its reset.
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	# poll_query_until's psql must not meet a server still in recovery: it exits before
	# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'worker killed: the cluster comes back');
	isnt($node->safe_psql('postgres', $state_sql), 'ready', 'worker killed: not ready after the restart');
	ok($node->poll_query_until('postgres', "$workers_sql = 0"), 'worker killed: no worker left');
	rebuilt_exactly('worker killed');
}

# 4. The owner's memory quota is exhausted while the workers write: the quota's error (raised by
# whichever participant met it), nothing ready, nothing left charged, and the next build fits.
{
	$node->safe_psql('postgres', q{
ALTER ROLE arr_owner RESET parallel_material.debug_build_pause;
ALTER SYSTEM SET parallel_material.arrangement_memory_per_role = '1MB';
SELECT pg_reload_conf();
VACUUM FULL t;
});
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM parallel_material.arrangement_rows('t')",
		extra_params => [ '-U', 'arr_owner' ]);
	isnt($ret, 0, 'quota: the build fails');
	like($err, qr/does not fit in parallel_material.arrangement_memory_per_role/,
		"quota: the quota's error");
	isnt($node->safe_psql('postgres', $state_sql), 'ready', 'quota: not ready');
	ok($node->poll_query_until('postgres', "$workers_sql = 0"), 'quota: no worker left');
	$node->safe_psql('postgres', q{
ALTER SYSTEM RESET parallel_material.arrangement_memory_per_role;
SELECT pg_reload_conf();
});
	rebuilt_exactly('quota');
}

$node->stop;
done_testing();
