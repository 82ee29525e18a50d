# 038_attack_share_midchange.pl — issue 12, class "settings": a producer whose settings change
# while another session is attached to its entry. share_alice's cursor produces a shared result
# (FETCH 2) and idles; share_bob, with the same settings and no bound on waits, attaches and reads
# those 2 rows; share_alice then sets extra_float_digits = 0 and fetches the rest (stock: her
# later rows have the short text). Her rows must not reach share_bob: he must get stock's rows
# with his own settings (before the fix he got her short text for rows 3-6), and his take-over
# must accept the 2 rows he read (they were computed with his settings).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attack_share_midchange');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\nmax_parallel_workers_per_gather = 0\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE share_alice LOGIN;
CREATE ROLE share_bob LOGIN;
CREATE TABLE t (id int, f float8);
INSERT INTO t SELECT i, i / 7.0 FROM generate_series(1, 6) i;
CREATE TABLE k (id int);
INSERT INTO k SELECT generate_series(1, 6);
ANALYZE t, k;
GRANT SELECT ON t, k TO share_alice, share_bob;
});
ok($node->poll_query_until('postgres',
		"SELECT parallel_material.data_version('t') IS NOT NULL AND parallel_material.data_version('k') IS NOT NULL"),
	'data versions usable');
my $share = 'SET parallel_material.enable = on; SET parallel_material.share_across_sessions = on; SET parallel_material.share_min_cost = 0;';
my $query = 'SELECT t.id, t.f::text FROM t JOIN k ON k.id = t.id';
my $stock = $node->safe_psql('postgres', "SET parallel_material.enable = off; $query");
my $stock0 = $node->safe_psql('postgres',
	"SET parallel_material.enable = off; SET extra_float_digits = 0; $query");

my $alice = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_alice' ]);
$alice->query_safe($share);
$alice->query_safe('BEGIN');
$alice->query_safe("DECLARE c NO SCROLL CURSOR FOR $query");
my $first = $alice->query_safe('FETCH 2 FROM c');
# The whole result's entry (both relations; an inner site may hold one of k alone).
my $whole = "FROM parallel_material.shared_results WHERE cardinality(relations) = 2";
is($node->safe_psql('postgres', "SELECT state $whole"),
	'producing', "share_alice's cursor holds a producing entry");

my $bob = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'share_bob' ]);
$bob->query_safe($share);
$bob->query_safe("SET parallel_material.share_wait_timeout = -1; SET statement_timeout = '60s'");
my $bpid = $bob->query_safe('SELECT pg_backend_pid()');
$bob->query_safe('BEGIN');
$bob->query_safe("DECLARE c NO SCROLL CURSOR FOR $query");
$bob->query_until(qr/started/, "\\echo started\nFETCH ALL FROM c;\n");
ok($node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $bpid"),
	'share_bob is attached and waits for share_alice');

$alice->query_safe('SET extra_float_digits = 0');
my $rest = $alice->query_safe('FETCH ALL FROM c');
my @stock0 = split /\n/, $stock0;
is("$first\n$rest", join("\n", (split /\n/, $stock)[0 .. 1], @stock0[2 .. 5]),
	"share_alice: stock's rows, the later ones with her new setting");

my $rows = $bob->query('SELECT 1');    # waits for the FETCH ALL to end
is($bob->{stderr}, '', 'share_bob: no error');
$rows =~ s/\n1$//;
$rows =~ s/^started\n//;
is($rows, $stock, "share_bob: stock's rows with his own settings, not share_alice's");
$bob->query_safe('COMMIT');
$alice->query_safe('COMMIT');
is($node->safe_psql('postgres', "SELECT count(*) $whole AND state = 'ready'"),
	'0', 'share_alice published nothing');
$_->quit for ($alice, $bob);
$node->stop;
done_testing();
