# 002_material_cancel.pl — a ParallelMaterial cancelled while it spills (statement_timeout and
# pg_cancel_backend) ends in a clean error, leaves no temp files, and the session stays usable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'parallel_material'");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE big AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, 40000) g;
	ANALYZE big;
});

my $settings = q{
	SET parallel_material.enable = on;
	SET parallel_material.memory_limit = '64kB';
	SET enable_hashjoin = off; SET enable_mergejoin = off;
	SET max_parallel_workers_per_gather = 0;
};
my $slow = 'SELECT count(*) FROM big a JOIN big b ON a.id < b.id AND a.pad <> b.pad;';

# The plan really materializes through our node.
like($node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $slow"),
	qr/Custom Scan \(ParallelMaterial\)/, 'the slow query uses ParallelMaterial');

# statement_timeout, then the same session runs another query.
my ($ret, $out, $err) = $node->psql('postgres',
	"$settings SET statement_timeout = '1s'; $slow RESET statement_timeout; SELECT 42;",
	on_error_stop => 0);
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels it');
like($out, qr/^42$/m, 'the session keeps working after the timeout');

# pg_cancel_backend from another session.
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe($settings);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\n$slow\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $pid AND state = 'active' AND query LIKE '%big a JOIN%'"),
	'the query runs');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my $after = $bg->query('SELECT 7 AS alive');
like($after, qr/7/, 'the cancelled session answers the next query');
like($bg->{stderr}, qr/canceling statement due to user request/, 'cancel reported as such');
$bg->quit;

# No temp file is left, and the node still gives stock's answer.
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_ls_tmpdir()'), '0', 'no temp files left');
my $small = 'SELECT count(*), sum(a.id + b.id) FROM big a JOIN big b ON a.id < b.id AND b.id < 300;';
my $stock = $node->safe_psql('postgres', "SET enable_hashjoin = off; SET enable_mergejoin = off; $small");
is($node->safe_psql('postgres', "$settings $small"), $stock, 'same result as stock after the cancels');

$node->stop;
done_testing();
