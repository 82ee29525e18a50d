# 008_shared_results_exec.pl — a serial ParallelMaterial node shares its result across sessions:
# a second session attaches to a result being produced and streams it; a producer cancelled
# while a reader is attached and has copied part of the result makes the reader take over (it
# runs the plan itself and checks that its first rows are the ones it copied); a producer killed
# with SIGKILL never leaves a reader hanging nor serves it a partial result as complete; a crash
# restart clears every entry. The producer is held by an IMMUTABLE function that waits at a gate
# (shareable by verdict) once it has produced its first rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shared_results_exec');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nrestart_after_crash = on\nautovacuum = off");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE TABLE ta (id int, grp int);
CREATE TABLE tb (id int, grp int);
INSERT INTO ta SELECT g, g % 5 FROM generate_series(1, 40) g;
INSERT INTO tb SELECT g, g % 5 FROM generate_series(1, 600) g;
ANALYZE ta, tb;
-- Past id 300, waits at a gate (advisory lock 4242) the test holds while a producer must stay
-- producing: the rows before it are published, the rest wait.
CREATE FUNCTION gated_pos(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN IF $1 > 300 THEN PERFORM pg_advisory_lock_shared(4242);
     PERFORM pg_advisory_unlock_shared(4242); END IF; RETURN $1 > 0; END $$;
});
# The gate is a user-defined IMMUTABLE function: trusted here for the test only.
my $settings = q{SET parallel_material.enable = on; SET parallel_material.share_across_sessions = on; SET parallel_material.share_min_cost = 0; SET parallel_material.share_whole_results = off;
SET parallel_material.debug_trust_immutable_functions = on;
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_memoize = off;
SET max_parallel_workers_per_gather = 0;
SET parallel_material.share_wait_timeout = -1;};
# (The gate holds the producer in a lock wait on purpose; with a bounded wait an attached reader
# would take over after parallel_material.share_wait_timeout: these readers wait without bound.)
# An uncorrelated ALL SubPlan over a Materialize whose child waits at the gate: while the test
# holds the gate, the producer stays in 'producing' however fast or slow the machine is.
my $query = q{SELECT count(*), sum(a.id) FROM ta a WHERE a.id < ALL (SELECT b.id + 1000 FROM tb b WHERE b.grp < 3 AND gated_pos(b.id))};

# The gate: a session holding advisory lock 4242 exclusively.
my $gate;
sub close_gate {
	$gate = $node->background_psql('postgres', on_error_stop => 0);
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
}
sub open_gate { $gate->query_safe('SELECT pg_advisory_unlock(4242)'); $gate->quit; }
my $stock = $node->safe_psql('postgres', "SET parallel_material.enable = off; $query");
like($node->safe_psql('postgres', "$settings EXPLAIN (VERBOSE, COSTS OFF) $query"),
	qr/Cross-Session Sharing: eligible/, 'the SubPlan is eligible');

my $state = q{SELECT string_agg(state || ':' || readers, ',') FROM parallel_material.shared_results};

# Starts the query in a background session; returns once its entry is being produced.
sub start_producer {
	$node->safe_psql('postgres', 'SELECT parallel_material.reset_shared_results()');
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe($settings);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\n$query;\n");
	ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM parallel_material.shared_results WHERE state = 'producing' AND producer_pid = $pid"),
		'the producer registered its entry');
	return ($bg, $pid);
}

# A reader in a background session; returns once it is attached (two pins on the entry) and
# has copied every row published so far (it sleeps on the entry's condition variable).
sub start_reader {
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe($settings);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query;\n$query;\n");
	ok($node->poll_query_until('postgres', "SELECT readers = 2 FROM parallel_material.shared_results WHERE state = 'producing'"),
		'the reader attached to the entry being produced');
	ok($node->poll_query_until('postgres', "SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid"),
		'the reader caught up with the producer');
	return $bg;
}

# 1. Attach: the reader streams the producer's rows; both get the stock answer.
close_gate();
my ($prod, $ppid) = start_producer();
my $rd = start_reader();
open_gate();
my $prod_out = $prod->query('SELECT 1');    # waits for the producer's query to end
my $rd_out = $rd->query('SELECT 1');
like($rd_out, qr/Cross-Session Sharing: attached/, 'the second session attached');
like($rd_out, qr/\Q$stock\E/, 'the reader gets the stock answer');
like($prod_out, qr/\Q$stock\E/, 'the producer gets the stock answer');
is($prod->{stderr} . $rd->{stderr}, '', 'no error in either session');
is($node->safe_psql('postgres', $state), 'ready:0', 'one ready entry, unpinned');
like($node->safe_psql('postgres', "$settings EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query"),
	qr/Cross-Session Sharing: hit/, 'a third session hits the ready entry');
$prod->quit;
$rd->quit;

# 2. The producer is cancelled with a reader attached that copied its first rows: the reader
#    takes over (runs the plan itself, checks the rows it copied) and gets the stock answer;
#    no failed entry is left.
close_gate();
($prod, $ppid) = start_producer();
$rd = start_reader();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($ppid)");
$prod->query('SELECT 1');
open_gate();    # a reader that recomputes passes the gate itself
like($prod->{stderr}, qr/canceling statement due to user request/, 'the producer was cancelled');
$rd_out = $rd->query('SELECT 1') . $rd->{stderr};
like($rd_out, qr/Cross-Session Sharing: skipped \(the producing session failed; ran the plan itself and checked the rows already read\)/,
	'the attached reader took over and checked the rows it had read');
like($rd_out, qr/\Q$stock\E/, 'the reader gets the stock answer');
is($rd->{stderr}, '', 'no error in the reader');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM parallel_material.shared_results WHERE state <> 'ready'"),
	'no producing or failed entry is left');
$prod->quit;
$rd->quit;

# 2b. The same for a whole result, which an attached reader streams straight from the entry to
#     its client: after the producer is cancelled the reader runs the plan itself, checks that
#     its first rows are the ones it already returned, and returns the rest.
{
	my $wsettings = $settings =~ s/share_whole_results = off/share_whole_results = on/r;
	my $wquery = q{SELECT b.id, generate_series(1, 1) AS one FROM tb b WHERE b.grp < 3 AND gated_pos(b.id)};
	my $wstock = $node->safe_psql('postgres', "SET parallel_material.enable = off; $wquery");
	like($node->safe_psql('postgres', "$wsettings EXPLAIN (VERBOSE, COSTS OFF) $wquery"),
		qr/Shared Site: whole result.*Mode: streaming.*Cross-Session Sharing: eligible/s,
		'the whole result is a streaming site');
	close_gate();
	$node->safe_psql('postgres', 'SELECT parallel_material.reset_shared_results()');
	my $wprod = $node->background_psql('postgres', on_error_stop => 0);
	$wprod->query_safe($wsettings);
	my $wppid = $wprod->query_safe('SELECT pg_backend_pid()');
	$wprod->query_until(qr/started/, "\\echo started\n$wquery;\n");
	ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM parallel_material.shared_results WHERE state = 'producing' AND producer_pid = $wppid"),
		'the whole-result producer registered its entry');
	my $wrd = $node->background_psql('postgres', on_error_stop => 0);
	$wrd->query_safe($wsettings);
	my $wrpid = $wrd->query_safe('SELECT pg_backend_pid()');
	$wrd->query_until(qr/started/, "\\echo started\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $wquery;\n$wquery;\n");
	ok($node->poll_query_until('postgres', "SELECT readers = 2 FROM parallel_material.shared_results WHERE state = 'producing'"),
		'the reader attached to the whole result being produced');
	ok($node->poll_query_until('postgres', "SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $wrpid"),
		'the reader streamed the rows published so far');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($wppid)");
	$wprod->query('SELECT 1');
	open_gate();
	like($wprod->{stderr}, qr/canceling statement due to user request/, 'the whole-result producer was cancelled');
	my $wout = $wrd->query('SELECT 1');
	like($wout, qr/Cross-Session Sharing: skipped \(the producing session failed; ran the plan itself and checked the rows already read\)/,
		'the streaming reader took over and checked the rows it had returned');
	like($wout, qr/\Q$wstock\E/, 'the streaming reader then gets the stock rows');
	is($wrd->{stderr}, '', 'no error in the streaming reader');
	$wprod->quit;
	$wrd->quit;
}

# 3. kill -9 of the producer with a reader attached: the crash restart ends every session (the
#    reader gets an error, not a hang) and clears every entry.
close_gate();
($prod, $ppid) = start_producer();
$rd = start_reader();
kill 'KILL', $ppid;
{
	# psql exits when the server closes the connection; wait for that (no more input to send).
	# A hang would stop the test here (prove runs under a timeout).
	local $SIG{PIPE} = 'IGNORE';
	eval { $rd->{run}->finish; };
	eval { $prod->{run}->finish; };
	eval { $gate->{run}->finish; };    # the crash restart ended the gate's session too
}
like($rd->{stderr}, qr/server closed the connection|terminating connection|connection to server was lost/,
	'the attached reader got an error, not a result');
unlike($rd->{stdout}, qr/\Q$stock\E/, 'the reader served no result');
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.shared_results'), '0',
	'the crash restart cleared every entry');
# Sharing works again in the new lifetime (after the tracking horizon).
ok($node->poll_query_until('postgres',
		"SELECT parallel_material.data_version('tb') IS NOT NULL"), 'data versions usable again');
is($node->safe_psql('postgres', "$settings $query"), $stock, 'right answer after the crash');
like($node->safe_psql('postgres', "$settings EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query"),
	qr/Cross-Session Sharing: hit/, 'a new entry is produced and hit after the crash');

$node->stop;
done_testing();
