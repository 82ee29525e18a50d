# 115_arrangement_rowstore_restart.pl — a row arrangement (create_row_arrangement) and the key-only
# arrangement that reads it, across a crash in the middle of writing transactions: both come back
# invalid and are rebuilt by their first use by a role that may rebuild them (a SELECT-only role
# meanwhile gets stock's plan, then the heap fetch); joins through them always
# return stock's rows, and arrangement_check finds the row arrangement exact. Then pg_dump and
# restore_arrangements() carry the row arrangement (an empty key) into another database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rowstore');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on\n"
	  . "parallel_material.arrangement_memory = '32MB'\nmax_parallel_workers_per_gather = 0");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE ROLE rdr LOGIN;
	CREATE TABLE t (id int, k int, v text, n int) WITH (fillfactor = 60);
	CREATE TABLE q (k int);
	INSERT INTO q SELECT g FROM generate_series(0, 9) g;
	INSERT INTO t SELECT g, g % 10, 'v' || g, g FROM generate_series(1, 2000) g;
	ANALYZE t, q;
	SELECT parallel_material.create_arrangement('t', '{k}', '{}');
	SELECT parallel_material.create_row_arrangement('t');
	GRANT SELECT ON t, q TO rdr;
});
my $join = "SELECT string_agg(t.id || ':' || t.v || ':' || t.n, ',' ORDER BY t.id) FROM q JOIN t ON t.k = q.k";
my $force = "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;";
sub same_as_stock {
	my ($what, $user) = @_;
	my $pre = defined $user ? "SET ROLE $user; " : '';
	my $arr = $node->safe_psql('postgres', "$pre$force $join");
	my $stock = $node->safe_psql('postgres', "${pre}SET parallel_material.enable_arrangement_join = off; $join");
	is($arr, $stock, "$what: the join's rows are stock's");
}
sub plan_lines {
	my ($user) = @_;
	my $pre = defined $user ? "SET ROLE $user; " : '';
	my $plan = $node->safe_psql('postgres',
		"$pre$force EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $join");
	return join('; ', grep { /Row Columns|Heap Columns|Fallback|Row Lookups:|Heap Fetches:/ } map { s/^\s+//r } split /\n/, $plan);
}
like(plan_lines(), qr/Row Columns: id, v, n; Row Lookups: 2000/, 'read through the row arrangement');
same_as_stock('before the crash');

# Crash in the middle of writing transactions: one committed just before, one open.
my $bg = $node->background_psql('postgres');
$bg->query_safe("UPDATE t SET v = 'committed', n = -n WHERE id % 7 = 0");
$bg->query_safe("BEGIN");
$bg->query_safe("UPDATE t SET v = 'in flight', k = 0 WHERE id % 3 = 0");
$bg->query_safe("DELETE FROM t WHERE id % 5 = 0");
my $victim = $bg->query_safe('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $victim;
eval { $bg->quit; };
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'cluster back after a crash');
is($node->safe_psql('postgres',
	"SELECT string_agg(state, ',' ORDER BY key::text) FROM parallel_material.arrangements"),
	'invalid,invalid', 'both invalid after the crash');

# The planner plans only on ready arrangements: stock's plan and rows meanwhile.
is(plan_lines('rdr'), '', 'stock plan while both are invalid');
same_as_stock('SELECT-only role after the crash', 'rdr');
# The owner's use rebuilds the key-only arrangement; a SELECT-only role's join does not rebuild
# the row arrangement: it reads the heap.
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_check('t', '{k}')"),
	'0', 'the key-only arrangement rebuilt, exact');
like(plan_lines('rdr'), qr/Heap Columns: id, v, n; Heap Fetches: \d+/,
	'a SELECT-only role does not rebuild the row arrangement: heap fetch');
same_as_stock('SELECT-only role, row arrangement invalid', 'rdr');
# The owner's join rebuilds the row arrangement at executor start and reads it.
like(plan_lines(), qr/Row Columns: id, v, n; Row Lookups: \d+/,
	'the owner\'s join rebuilds the row arrangement and reads it');
is($node->safe_psql('postgres',
	"SELECT string_agg(state, ',' ORDER BY key::text) FROM parallel_material.arrangements"),
	'ready,ready', 'both ready again');
like(plan_lines('rdr'), qr/Row Columns: id, v, n; Row Lookups: \d+/, 'read by the SELECT-only role');
same_as_stock('after the rebuild');
same_as_stock('SELECT-only role after the rebuild', 'rdr');
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_check('t', '{}')"),
	'0', 'the row arrangement equals the heap');
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'in flight'"), '0',
	'the crashed transaction\'s rows are not seen');

# pg_dump carries the row arrangement (an empty key); restore_arrangements() re-creates it.
my $dump = $node->basedir . '/rowstore.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE r');
$node->command_ok([ 'psql', '-X', '-q', '-d', $node->connstr('r'), '-f', $dump ], 'restore');
is($node->safe_psql('r',
	"SELECT string_agg(key::text || '=' || (defid > 0)::text, ',' ORDER BY key::text) FROM parallel_material.restore_arrangements()"),
	'{k}=true,{}=true', 'restore_arrangements re-creates both');
like($node->safe_psql('r', "$force EXPLAIN (COSTS OFF) $join"), qr/Row Columns: id, v, n/,
	'the restored key-only arrangement reads the restored row arrangement');
is($node->safe_psql('r', "$force $join"), $node->safe_psql('postgres', "$force $join"),
	'the same rows in the restored database');

done_testing();
