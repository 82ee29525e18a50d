# 075_partial_agg_worker_killed.pl — issue 15: a shared aggregate produced by every participant
# (Mode: shared, every participant aggregates), hit while the participants aggregate their
# shares: a worker terminated, the leader cancelled, a worker killed with SIGKILL. Each time the
# query either fails with a clean error or returns stock's answer — never a wrong one — and no
# spill file is left; the session (or, after SIGKILL, the restarted server) answers correctly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partial_agg');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
max_worker_processes = 8
max_parallel_workers = 4
restart_after_crash = on
});
$node->start;
# slow_id: immutable and parallel safe (the split accepts it), sleeps on one row in 100 so that
# aggregating the inner table takes seconds, split across the participants.
$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE big AS SELECT g AS id, g % 100 AS b FROM generate_series(1, 100000) g;
	CREATE TABLE inner_t AS SELECT g AS x, g % 50 AS y FROM generate_series(1, 40000) g;
	ALTER TABLE inner_t SET (parallel_workers = 0);
	ANALYZE big, inner_t;
	CREATE FUNCTION slow_id(int) RETURNS int IMMUTABLE PARALLEL SAFE LANGUAGE plpgsql AS $$
	BEGIN IF $1 % 100 = 0 THEN PERFORM pg_sleep(0.01); END IF; RETURN $1; END $$;
});

my $settings = q{
	SET parallel_material.enable = on;
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
	SET enable_sort = off;  -- a hashed aggregate (a sorted one keeps one producer)
};
my $slow = q{SELECT count(*) FROM big WHERE b < ALL (SELECT max(slow_id(x)) / 400 FROM inner_t GROUP BY y);};
my $plan = $node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $slow");
like($plan, qr/Mode: shared, every participant aggregates/, 'every participant aggregates a share');
like($plan, qr/Partial HashAggregate/, 'the aggregate is split');

my $stock = $node->safe_psql('postgres', "SET parallel_material.enable = off; $slow");
is($stock, '99000', 'stock\'s answer');
is($node->safe_psql('postgres', "$settings $slow"), $stock, 'the split aggregate gives stock\'s answer');

# Starts the slow query in a background session; returns once a worker sleeps inside slow_id,
# that is, while the participants aggregate their shares.
sub start_slow {
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe($settings);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\n$slow\n");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker' AND wait_event = 'PgSleep'"),
		'a parallel worker aggregates its share');
	return ($bg, $pid);
}

# The query's outcome: a clean error matching $err, or stock's answer.
sub clean_or_right {
	my ($bg, $err, $what) = @_;
	my $out = $bg->query('SELECT 7 AS alive');
	like($out, qr/7/, "the session answers after $what");
	my $answered = $bg->{stdout} =~ /\b$stock\b/;
	ok($answered || $bg->{stderr} =~ $err, "$what: a clean error or stock's answer")
		or diag("stdout: $bg->{stdout}\nstderr: $bg->{stderr}");
	unlike($bg->{stdout}, qr/^\s*(?!$stock\b|7\b)\d+\s*$/m, "$what: never a wrong count");
}

# 1. A worker terminated while it aggregates its share.
my ($bg, $pid) = start_slow();
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker'");
clean_or_right($bg, qr/terminating background worker "parallel worker" due to administrator command/,
	'a terminated worker');
$bg->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file left after the terminated worker');

# 2. The leader cancelled while the participants aggregate: every participant stops.
($bg, $pid) = start_slow();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
clean_or_right($bg, qr/canceling statement due to user request/, 'a cancel');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE leader_pid = $pid"),
	'no parallel worker of the cancelled query survives');
$bg->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file left after the cancel');

# 3. SIGKILL on a worker mid-share: crash restart; the client gets an error, not a hang (nor a
#    count); the restarted server gives stock's answer and holds no spill file.
($bg, $pid) = start_slow();
my $wpid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE leader_pid = $pid AND backend_type = 'parallel worker' LIMIT 1");
my $log_offset = -s $node->logfile;
kill 'KILL', $wpid;
# psql may already have exited with its killed connection: quit's "\q" then meets a closed pipe
# (EPIPE, which made the script die there, its last four assertions unrun, on a loaded machine).
eval { $bg->quit; };
unlike($bg->{stdout} // '', qr/^\s*\d+\s*$/m, 'no count returned from the killed query');
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash restart');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_ls_tmpdir() WHERE name LIKE '%.pm%'}), '0',
	'no spill file survives the crash restart');
is($node->safe_psql('postgres', "$settings $slow"), $stock, 'stock\'s answer after the restart');

$node->stop;
done_testing();
