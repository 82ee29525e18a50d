# 031_attack_share_lock_wait.pl — issue 12, class "waits": a producer that waits for a lock held
# by the very session attached to its entry. share_bob holds an advisory lock in an open
# transaction; share_alice's shareable query (an IMMUTABLE function in it takes that lock in
# shared mode past id 300) starts producing the whole result and blocks on the lock; share_bob
# then runs the same query and attaches. Nobody can move: the producer waits for bob's
# transaction, bob waits for the producer on a ConditionVariable the deadlock detector does not
# see. A producer in a lock wait counts as idle: after share_wait_timeout bob runs the plan itself
# (it holds the lock, so its own run passes), gets stock's answer, commits, and alice's query
# completes too. Without the bound bob waits until his statement_timeout (30s): an error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attack_share_lock_wait');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\n"
	  . "parallel_material.enable = on\nparallel_material.share_across_sessions = on\nparallel_material.share_min_cost = 0\n"
	  . "max_parallel_workers_per_gather = 0\n"
	  # (Where the allowlist of issue 12 item 1 exists: its test-only setting lets the gate, a
	  # user IMMUTABLE function, be shared. Elsewhere an unknown name, ignored with a warning.)
	  . "parallel_material.debug_trust_immutable_functions = on\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE share_alice LOGIN;
CREATE ROLE share_bob LOGIN;
CREATE TABLE tb (id int, grp int);
INSERT INTO tb SELECT g, g % 5 FROM generate_series(1, 600) g;
ANALYZE tb;
GRANT SELECT ON tb TO share_alice, share_bob;
CREATE FUNCTION gated_pos(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN IF $1 > 300 THEN PERFORM pg_advisory_lock_shared(4242);
     PERFORM pg_advisory_unlock_shared(4242); END IF; RETURN $1 > 0; END $$;
});
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('tb') IS NOT NULL"),
	'data versions usable');
my $query = 'SELECT grp, count(*), sum(id) FROM tb WHERE gated_pos(id) GROUP BY grp ORDER BY grp';
my $stock = $node->safe_psql('postgres', "SET parallel_material.enable = off; $query");
like($node->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $query"),
	qr/Shared Site: whole result\n.*\n\s*Cross-Session Sharing: eligible/, 'the whole result is shareable');

my $bob = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_bob' ]);
$bob->query_safe("SET statement_timeout = '30s'");
$bob->query_safe('BEGIN');
$bob->query_safe('SELECT pg_advisory_xact_lock(4242)');

my $alice = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_alice' ]);
my $apid = $alice->query_safe('SELECT pg_backend_pid()');
$alice->query_until(qr/started/, "\\echo started\n$query;\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM parallel_material.shared_results WHERE state = 'producing' AND producer_pid = $apid"),
	"share_alice's query produces the whole result");
ok($node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $apid"),
	'and waits for the lock share_bob holds');

my $plan = $bob->query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query");
like($plan, qr/Cross-Session Sharing: skipped \(the producing session was idle for parallel_material.share_wait_timeout; ran the plan itself\)/,
	'share_bob attached, then ran the plan itself');
my $rows = $bob->query($query);
is($rows, $stock, "share_bob gets stock's answer while share_alice's query still waits");
is($bob->{stderr}, '', 'no error (no statement timeout) for share_bob');
is($node->safe_psql('postgres', "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $apid"), 'Lock',
	'share_alice was still waiting meanwhile');
$bob->query_safe('COMMIT');
my $a_rows = $alice->query('SELECT 1');
like($a_rows, qr/\Q$stock\E/, "share_alice's query completes with stock's answer once the lock is free");
is($alice->{stderr}, '', 'no error for share_alice');
$alice->quit;
$bob->quit;
$node->stop;
done_testing();
