# 009_shared_results_spill.pl — a shared result larger than its entry's ring spills its cold
# prefix to a file in base/pgsql_tmp: a reader in another session attaches while it is being
# produced and streams it, a third session hits it (reading the spilled pages back by path), and
# the file is removed by whichever backend frees the entry: reset_shared_results() (with the
# log_temp_files line), least-recently-used eviction by another session's new entry, and the
# crash restart after kill -9 (PostgreSQL's RemovePgTempFiles). parallel_material.shared_memory is
# 1MB, so an entry's ring is capped at 256kB (a quarter) and at most three rings fit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shared_results_spill');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on\nautovacuum = off\n"
	  . "parallel_material.shared_memory = '1MB'\nlog_temp_files = 0");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE TABLE ta (id int, pad text);
CREATE TABLE tb (id int, pad text);
INSERT INTO ta VALUES (1, ''), (2, ''), (3, '');
INSERT INTO tb SELECT g, repeat('x', 200) || g FROM generate_series(1, 20000) g;
ANALYZE ta, tb;
-- Waits at a gate (advisory lock 4242) the test holds while a producer must stay producing.
CREATE FUNCTION gated_pos(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242);
     RETURN $1 > 0; END $$;
});
# The gate is a user-defined IMMUTABLE function: trusted here for the test only.
my $settings = q{SET parallel_material.enable = on; SET parallel_material.share_across_sessions = on; SET parallel_material.share_min_cost = 0; SET parallel_material.share_whole_results = off;
SET parallel_material.debug_trust_immutable_functions = on;
SET max_parallel_workers_per_gather = 0;
SET parallel_material.share_wait_timeout = -1;};
# (The gate holds the producer in a lock wait on purpose; with a bounded wait an attached reader
# would take over after parallel_material.share_wait_timeout: these readers wait without bound.)
# An uncorrelated ALL SubPlan over a Materialize of 20000 rows of about 210 bytes (4.6 MB of log
# through a 256 kB ring); each $k is another subplan (another entry) with the same rows.
sub query {
	my $k = shift;
	return "SELECT count(*), min(a.id) FROM ta a WHERE a.pad < ALL (SELECT b.pad FROM tb b WHERE gated_pos(b.id) AND b.id > -$k)";
}
my $datadir = $node->data_dir;
my $stock = $node->safe_psql('postgres', 'SET parallel_material.enable = off; ' . query(0));
is($stock, '3|1', 'stock answer');
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('tb') IS NOT NULL"),
	'data versions usable');

sub file_of {
	my $k = shift;
	return $node->safe_psql('postgres',
		"SELECT spill_file FROM parallel_material.shared_results WHERE query LIKE '%b.id > -$k)%' AND state = 'ready'");
}

my $gate;
sub close_gate {
	$gate = $node->background_psql('postgres', on_error_stop => 0);
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
}
sub open_gate { $gate->query_safe('SELECT pg_advisory_unlock(4242)'); $gate->quit; }

# 1. A reader attaches while the result is produced, and streams it as the producer spills.
close_gate();
my $prod = $node->background_psql('postgres', on_error_stop => 0);
$prod->query_safe($settings);
my $ppid = $prod->query_safe('SELECT pg_backend_pid()');
$prod->query_until(qr/started/, "\\echo started\n" . query(0) . ";\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM parallel_material.shared_results WHERE state = 'producing' AND producer_pid = $ppid"),
	'the producer registered its entry');
my $rd = $node->background_psql('postgres', on_error_stop => 0);
$rd->query_safe($settings);
$rd->query_until(qr/started/,
	"\\echo started\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " . query(0) . ";\n" . query(0) . ";\n");
ok($node->poll_query_until('postgres',
		"SELECT readers = 2 FROM parallel_material.shared_results WHERE state = 'producing'"),
	'the reader attached to the entry being produced');
open_gate();
my $prod_out = $prod->query('SELECT 1');
my $rd_out = $rd->query('SELECT 1');
like($rd_out, qr/Cross-Session Sharing: attached/, 'the second session attached');
like($rd_out, qr/\Q$stock\E/, 'the attached reader gets the stock answer');
like($prod_out, qr/\Q$stock\E/, 'the producer gets the stock answer');
is($prod->{stderr} . $rd->{stderr}, '', 'no error in either session');
$prod->quit;
$rd->quit;
is($node->safe_psql('postgres',
		"SELECT state || ':' || readers || ':' || (bytes < 300000) || ':' || (spilled_bytes > 4000000) FROM parallel_material.shared_results"),
	'ready:0:true:true', 'one ready entry, its ring in memory and the rest spilled');
my $f0 = file_of(0);
like($f0, qr{^base/pgsql_tmp/pgsql_tmp_pmresult\.\d+\.\d+$}, 'the spill file is in base/pgsql_tmp');
ok(-f "$datadir/$f0", 'the spill file exists');
is(-s "$datadir/$f0",
	$node->safe_psql('postgres', 'SELECT spilled_bytes FROM parallel_material.shared_results'),
	'its size is the spilled bytes the view shows');

# 2. A third session hits it: the spilled prefix is read back by path.
my $hit = $node->safe_psql('postgres', "$settings EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " . query(0));
like($hit, qr/Cross-Session Sharing: hit/, 'a third session hits the spilled entry');
is($node->safe_psql('postgres', "$settings " . query(0)), $stock, 'the hit gives the stock answer');

# 3. reset_shared_results() removes the file, logs it as log_temp_files does, and counts it in
#    pg_stat_database's temp_files / temp_bytes (flushed when the resetting session ends).
my $log_offset = -s $node->logfile;
my $size0 = -s "$datadir/$f0";
my ($tf, $tb) = split /\|/, $node->safe_psql('postgres',
	"SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = 'postgres'");
is($node->safe_psql('postgres', 'SELECT parallel_material.reset_shared_results()'), '1', 'reset drops the entry');
ok(!-e "$datadir/$f0", 'reset removed the spill file');
ok($node->wait_for_log(qr{LOG:  temporary file: path "\Q$f0\E", size $size0}, $log_offset),
	'the removal is logged as a temporary file, with its size');
ok($node->poll_query_until('postgres',
		"SELECT temp_files >= $tf + 1 AND temp_bytes >= $tb + $size0 FROM pg_stat_database WHERE datname = 'postgres'"),
	'and counted in pg_stat_database');

# 4. Eviction: new entries (another subplan each) push the least recently used one out of the
#    1MB of shared memory; the session that evicts it removes its file.
$node->safe_psql('postgres', "$settings " . query(1));
my $f1 = file_of(1);
ok($f1 ne '' && -f "$datadir/$f1", 'entry 1 spilled to its file');
my $k = 2;
while ($k < 8 && file_of(1) ne '') {
	$node->safe_psql('postgres', "$settings " . query($k));
	$k++;
}
is(file_of(1), '', 'entry 1 was evicted');
ok(!-e "$datadir/$f1", 'eviction removed its spill file');
my @live = split /\n/, $node->safe_psql('postgres',
	'SELECT spill_file FROM parallel_material.shared_results WHERE spill_file IS NOT NULL ORDER BY 1');
ok(@live >= 1, 'other spilled entries are still there');
is(scalar(grep { -f "$datadir/$_" } @live), scalar(@live), 'and their files exist');

# 5. kill -9 of a backend: the crash restart removes every spill file (RemovePgTempFiles) and the
#    registry starts empty.
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
$log_offset = -s $node->logfile;
kill 'KILL', $vpid;
{
	local $SIG{PIPE} = 'IGNORE';
	eval { $victim->{run}->finish; };
}
# Until the postmaster has noticed the death, 'SELECT 1' may still succeed: wait for its reset.
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
# poll_query_until's psql must not meet a server still in recovery: it exits before
# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.shared_results'), '0',
	'the crash restart cleared every entry');
is(scalar(grep { -e "$datadir/$_" } @live), 0, 'and removed every spill file');
my @left = glob("$datadir/base/pgsql_tmp/pgsql_tmp_pmresult*");
is(scalar(@left), 0, 'nothing of ours is left in base/pgsql_tmp');
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('tb') IS NOT NULL"),
	'data versions usable again');
is($node->safe_psql('postgres', "$settings " . query(0)), $stock, 'right answer after the crash');

$node->stop;
done_testing();
