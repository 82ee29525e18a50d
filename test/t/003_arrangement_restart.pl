# 003_arrangement_restart.pl — arrangements need preloading; their definitions survive restarts
# and crashes, and each rebuilds by itself on first use (until then the view says invalid);
# writes made before the rebuild, a crash in the middle of writing transactions and a crash
# during a build never leave a wrong row: arrangement_check() compares with the heap.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('arrangements');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->start;

# Not preloaded: a clear error naming shared_preload_libraries.
$node->safe_psql('postgres', 'CREATE EXTENSION parallel_material; CREATE TABLE t (id int, k int, v text)');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('t', '{k}')");
isnt($ret, 0, 'create_arrangement needs preloading');
like($stderr, qr/requires parallel_material to be loaded via shared_preload_libraries/,
	'the error names shared_preload_libraries');

# Preloaded with arrangement_memory = 0: disabled, and said so.
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on\nparallel_material.arrangement_memory = 0");
$node->restart;
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('t', '{k}')");
like($stderr, qr/arrangements are disabled/, 'arrangement_memory = 0 disables arrangements');

$node->append_conf('postgresql.conf', "parallel_material.arrangement_memory = '32MB'");
$node->restart;
$node->safe_psql('postgres', q{
	INSERT INTO t SELECT g, g % 10, 'v' || g FROM generate_series(1, 1000) g;
	SELECT parallel_material.create_arrangement('t', '{k}');
	UPDATE t SET v = 'u' WHERE id % 7 = 0;
	DELETE FROM t WHERE id % 11 = 0;
});
my $check = "SELECT count(*) FROM parallel_material.arrangement_check('t')";
my $state = "SELECT state FROM parallel_material.arrangements WHERE relation = 't'::regclass";
my $probe = "SELECT count(*) FROM parallel_material.arrangement_probe('t', '{3}')";
my $heap = "SELECT count(*) FROM t WHERE k = 3";
is($node->safe_psql('postgres', $state), 'ready', 'ready after create');
is($node->safe_psql('postgres', $check), '0', 'exact before restart');

# Clean restart: the definition survives, the index is rebuilt on first use.
$node->restart;
is($node->safe_psql('postgres', $state), 'invalid', 'not built yet after a restart');
# writes before the rebuild are picked up by the rebuild's heap scan
$node->safe_psql('postgres', "INSERT INTO t VALUES (5000, 3, 'before rebuild'); DELETE FROM t WHERE id = 3");
is($node->safe_psql('postgres', $probe), $node->safe_psql('postgres', $heap),
	'probe after restart equals the heap');
is($node->safe_psql('postgres', $state), 'ready', 'rebuilt by its first use');
is($node->safe_psql('postgres', $check), '0', 'exact after restart');

# Crash in the middle of writing transactions (one open, one committed just before).
my $bg = $node->background_psql('postgres');
$bg->query_safe("INSERT INTO t VALUES (6000, 3, 'committed before crash')");
$bg->query_safe("BEGIN");
$bg->query_safe("INSERT INTO t SELECT g, 3, 'in flight' FROM generate_series(7000, 7100) g");
$bg->query_safe("DELETE FROM t WHERE k = 3 AND id < 100");
my $victim = $bg->query_safe('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $victim;
eval { $bg->quit; };    # psql may have seen the closed connection and exited (EPIPE)
# Until the postmaster has noticed the death, 'SELECT 1' may still succeed: wait for its reset.
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'cluster back after a crash');
is($node->safe_psql('postgres', $state), 'invalid', 'not built yet after crash restart');
is($node->safe_psql('postgres', $probe), $node->safe_psql('postgres', $heap),
	'probe after crash equals the heap');
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_probe('t', '{3}') WHERE row_text LIKE '%in flight%'"),
	'0', 'the crashed transaction\'s rows are not seen');
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_probe('t', '{3}') WHERE row_text LIKE '%committed before crash%'"),
	'1', 'the committed row is seen');
is($node->safe_psql('postgres', $check), '0', 'exact after crash restart');

# Crash during a build (of a second, larger arrangement): afterwards either the definition was
# never committed, or it is rebuilt exactly; the first arrangement is unaffected.
$node->safe_psql('postgres', 'CREATE TABLE big (id int, k int); INSERT INTO big SELECT g, g % 100 FROM generate_series(1, 100000) g');
$bg = $node->background_psql('postgres');
$victim = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/^$/, "SELECT parallel_material.create_arrangement('big', '{k}');\n");
usleep(50_000);
$log_offset = -s $node->logfile;
kill 'KILL', $victim;
eval { $bg->quit };
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'cluster back after a crash during a build');
my $defs = $node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_defs WHERE relid = 'big'::regclass");
if ($defs eq '0') {
	$node->safe_psql('postgres', "SELECT parallel_material.create_arrangement('big', '{k}')");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangement_check('big')"),
	'0', 'the interrupted arrangement is exact once (re)built');
is($node->safe_psql('postgres', $check), '0', 'the other arrangement is exact');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the crashes were real ones');

# An arrangement that does not fit: a clear error, and nothing is left behind.
$node->safe_psql('postgres', "CREATE TABLE huge (id int, k int, pad text); INSERT INTO huge SELECT g, g, 'padding padding' FROM generate_series(1, 400000) g");
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT parallel_material.create_arrangement('huge', '{k}')");
like($stderr, qr/does not fit in parallel_material.arrangement_memory/, 'too big for arrangement_memory: clear error');
is($node->safe_psql('postgres', "SELECT count(*) FROM parallel_material.arrangements WHERE relation = 'huge'::regclass"),
	'0', 'the failed arrangement left no definition');
is($node->safe_psql('postgres', $check), '0', 'the other arrangement is still exact');

# Restart while an arrangement is in use by many writes, then DROP TABLE cleans up.
$node->safe_psql('postgres', 'UPDATE t SET k = (k + 1) % 10');
$node->restart;
is($node->safe_psql('postgres', $check), '0', 'exact after key-changing updates and restart');
$node->safe_psql('postgres', 'DROP TABLE t, big, huge');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.arrangements'), '0',
	'DROP TABLE removes the arrangements');

# Joins plan and run in a database without the extension, and after DROP EXTENSION ... CASCADE
# left the shared entries of an arrangement behind.
$node->safe_psql('postgres', q{
	CREATE TABLE j1 (k int); CREATE TABLE j2 (k int, v int);
	INSERT INTO j1 VALUES (1), (2); INSERT INTO j2 SELECT g % 300, g FROM generate_series(1, 3000) g;
	ANALYZE j1, j2;
	SELECT parallel_material.create_arrangement('j2', '{k}');
});
my $join = 'SELECT count(*), sum(v) FROM j1 JOIN j2 USING (k)';
like($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) $join"), qr/ArrangementJoin/,
	'the join probes the arrangement');
my $expected = $node->safe_psql('postgres', "SET parallel_material.enable_arrangement_join = off; $join");
is($node->safe_psql('postgres', $join), $expected, 'same result through the arrangement');
$node->safe_psql('postgres', 'DROP EXTENSION parallel_material CASCADE');
is($node->safe_psql('postgres', $join), $expected, 'joins work after DROP EXTENSION CASCADE');
$node->safe_psql('postgres', 'CREATE DATABASE other');
is($node->safe_psql('other', 'CREATE TABLE a (k int); CREATE TABLE b (k int); SELECT count(*) FROM a JOIN b USING (k)'),
	'0', 'joins work in a database without the extension');

$node->stop;
done_testing();
