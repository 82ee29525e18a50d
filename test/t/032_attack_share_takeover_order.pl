# 032_attack_share_takeover_order.pl — issue 12, class "waits": a reader that takes over from an
# idle producer after reading rows must still return stock's rows when its own run gives them
# in another order. share_alice's cursor over "ORDER BY grp" (many ties) FETCHes 3 rows and
# idles; a third session's scan of the same table is held in the middle of it, so share_bob's own
# run of the plan starts its synchronized scan there (shared_buffers is tiny) and its sort orders
# the ties differently. share_bob attaches, reads alice's 3 rows, takes over: the 3 rows must come
# again from his run (in any order), the others are used as they come. Before, the take-over
# required the same rows in the same order and failed the query.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attack_share_takeover_order');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\nshared_buffers = '128kB'\n"
	  . "synchronize_seqscans = on\nmax_parallel_workers_per_gather = 0\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE share_alice LOGIN;
CREATE ROLE share_bob LOGIN;
CREATE TABLE t (id int, grp int, pad text);
INSERT INTO t SELECT g, g % 2, repeat('p', 60) FROM generate_series(1, 20000) g;
ANALYZE t;
GRANT SELECT ON t TO share_alice, share_bob;
CREATE FUNCTION gate_at(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN IF $1 = 10000 THEN PERFORM pg_advisory_lock_shared(4343);
     PERFORM pg_advisory_unlock_shared(4343); END IF; RETURN true; END $$;
});
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('t') IS NOT NULL"),
	'data versions usable');
my $share = 'SET parallel_material.enable = on; SET parallel_material.share_across_sessions = on; SET parallel_material.share_min_cost = 0;';
my $query = 'SELECT grp, id FROM t ORDER BY grp';
my $stock = $node->safe_psql('postgres',
	"SET parallel_material.enable = off; SELECT string_agg(grp || ':' || id, ',' ORDER BY grp, id) FROM ($query) r");

my $alice = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_alice' ]);
$alice->query_safe($share);
$alice->query_safe('BEGIN');
$alice->query_safe("DECLARE c CURSOR FOR $query");
my $first = $alice->query_safe('FETCH 3 FROM c');
$first =~ s/\n/,/g;
is($node->safe_psql('postgres', "SELECT state FROM parallel_material.shared_results WHERE query LIKE '%ORDER BY grp%'"),
	'producing', "share_alice's cursor holds a producing entry");

# A scan held in the middle of t: the next synchronized scan of t starts there.
my $gate = $node->background_psql('postgres', on_error_stop => 0);
$gate->query_safe('SELECT pg_advisory_lock(4343)');
my $mid = $node->background_psql('postgres', on_error_stop => 0);
$mid->query_safe('SET parallel_material.enable = off');
my $mpid = $mid->query_safe('SELECT pg_backend_pid()');
$mid->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM t WHERE gate_at(id);\n");
ok($node->poll_query_until('postgres', "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $mpid"),
	'a scan of t is held in the middle');

my $bob = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_bob' ]);
$bob->query_safe($share);
$bob->query_safe("SET statement_timeout = '30s'");
my $rows = $bob->query($query);
is($bob->{stderr}, '', 'share_bob: no error');
my @rows = split /\n/, $rows;
is(scalar(@rows), 20000, 'share_bob gets every row');
is(join(',', @rows[0 .. 2]), $first, "share_bob's first rows are the ones he read from share_alice's entry");
my $sorted = 1;
for my $i (1 .. $#rows) { $sorted = 0 if (split /\|/, $rows[$i])[0] < (split /\|/, $rows[$i - 1])[0]; }
ok($sorted, 'in grp order');
my @canon = sort { my @x = split /\|/, $a; my @y = split /\|/, $b; $x[0] <=> $y[0] || $x[1] <=> $y[1] } @rows;
is(join(',', map { s/\|/:/r } @canon), $stock, "the same rows as stock");
like($bob->query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $query"),
	qr/Cross-Session Sharing: skipped \(the producing session is idle; ran the plan itself and checked the rows already read\)/,
	'share_bob attached and took over');
my $own = $node->safe_psql('postgres', "SET parallel_material.enable = off; SELECT grp || '|' || id FROM ($query) r LIMIT 3");
$own =~ s/\n/,/g;
note("share_alice's first rows: $first; a run now: $own");

$gate->query_safe('SELECT pg_advisory_unlock(4343)');
$mid->query('SELECT 1');
$alice->query_safe('COMMIT');
$_->quit for ($alice, $bob, $mid, $gate);
$node->stop;
done_testing();
