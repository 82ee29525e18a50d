# 001_preload.pl — the library works loaded per session and preloaded; features that need
# preloading say so; a backend crash restarts the cluster and the extension keeps working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->start;

# Not preloaded: CREATE EXTENSION loads the library in the session; settings work.
$node->safe_psql('postgres', 'CREATE EXTENSION parallel_material');
is($node->safe_psql('postgres', 'SELECT parallel_material.version()'), '0.2',
	'extension works without shared_preload_libraries');
is($node->safe_psql('postgres',
		"LOAD 'parallel_material'; SET parallel_material.enable = on; SHOW parallel_material.enable"),
	'on', 'settings work when loaded per session');
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT * FROM parallel_material.stats');
isnt($ret, 0, 'stats needs preloading');
like($stderr, qr/requires parallel_material to be loaded via shared_preload_libraries/,
	'the error names shared_preload_libraries');
like($stderr, qr/HINT:.*shared_preload_libraries/, 'with a hint that says what to do');

# Preloaded: the shared counters exist.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on");
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.stats'), '1',
	'stats readable when preloaded');

# A crashing backend: the postmaster restarts every process; the extension still works.
my $bg = $node->background_psql('postgres');
my $victim = $bg->query_safe('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $victim;
eval { $bg->quit; };    # psql may have seen the closed connection and exited (EPIPE)
# Until the postmaster has noticed the death, 'SELECT 1' may still succeed: wait for its reset.
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'cluster back after a backend crash');
is($node->safe_psql('postgres', 'SELECT parallel_material.version()'), '0.2',
	'extension works after crash restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.stats'), '1',
	'shared counters re-created after crash restart');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the crash was a real one');

$node->stop;
done_testing();
