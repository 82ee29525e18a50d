# 030_attack_share_disk.pl — issue 12, class "disk" (and "query text" across databases): one
# login role must not be able to fill the disk or the registry with shared results, nor see
# another database's entries. The cluster allows 2MB of spill files for all shared results
# together (parallel_material.share_spill_limit), so a role may hold 1MB. share_alice, whose
# share_ring_max a superuser set to 64kB (non-superusers cannot set it), runs 12 distinct
# shareable queries of about 450kB each (more than 4MB of spill without a bound) and exits: the
# spill files in base/pgsql_tmp and the registry view stay within her share after she is gone,
# every file belongs to a live entry, and results are stock's. share_bob then does the same:
# the total stays within the cluster bound (alice's unpinned entries make room), each role
# within its half.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $limit = 2 * 1024 * 1024;
my $node = PostgreSQL::Test::Cluster->new('attack_share_disk');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'parallel_material'\nautovacuum = off\n"
	  . "parallel_material.shared_memory = '8MB'\nparallel_material.share_spill_limit = '2MB'\n"
	  . "parallel_material.enable = on\nparallel_material.share_across_sessions = on\nparallel_material.share_min_cost = 0\n"
	  . "max_parallel_workers_per_gather = 0\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION parallel_material;
CREATE ROLE share_alice LOGIN;
CREATE ROLE share_bob LOGIN;
ALTER ROLE share_alice SET parallel_material.share_ring_max = '64kB';
ALTER ROLE share_bob SET parallel_material.share_ring_max = '64kB';
CREATE TABLE tb (id int, pad text);
INSERT INTO tb SELECT g, repeat('x', 200) || g FROM generate_series(1, 24000) g;
ANALYZE tb;
GRANT SELECT ON tb TO share_alice, share_bob;
CREATE DATABASE other;
});
ok($node->poll_query_until('postgres', "SELECT parallel_material.data_version('tb') IS NOT NULL"),
	'data versions usable');

# 2000 rows of about 210 bytes, sorted: a whole result of about 450kB through a 64kB ring.
sub query { my $k = shift; return "SELECT id, pad FROM tb WHERE id % 12 = $k ORDER BY id"; }
my $stock = $node->safe_psql('postgres',
	'SET parallel_material.enable = off; SELECT count(*), md5(string_agg(id::text || pad, \',\')) FROM ('
	  . query(3) . ') r');

# A non-superuser cannot make rings smaller (or larger) for itself.
my ($rc, $out, $err) = $node->psql('postgres', "SET parallel_material.share_ring_max = '128kB'",
	extra_params => [ '-U', 'share_bob' ]);
like($err, qr/permission denied to set parameter "parallel_material.share_ring_max"/,
	'share_ring_max is a superuser setting');

my $datadir = $node->data_dir;
sub files_bytes {
	my $sum = 0;
	$sum += -s $_ for glob("$datadir/base/pgsql_tmp/pgsql_tmp_pmresult*");
	return $sum;
}
sub files { return scalar(my @f = glob("$datadir/base/pgsql_tmp/pgsql_tmp_pmresult*")); }
sub run_as {
	my ($role, $from, $to) = @_;
	my $sql = '';
	$sql .= 'SELECT count(*), md5(string_agg(id::text || pad, \',\')) FROM (' . query($_) . ") r;\n"
	  . query($_) . ";\n" for ($from .. $to);
	my ($r, $o, $e) = $node->psql('postgres', $sql, extra_params => [ '-U', $role ]);
	is($r, 0, "$role: every query ran");
	is($e, '', "$role: no error");
	return $o;
}
sub role_spill {
	my $role = shift;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(spilled_bytes), 0) FROM parallel_material.shared_results WHERE producer_role = '$role'::regrole");
}

# share_alice produces 12 spilled results and exits.
my $a_out = run_as('share_alice', 0, 11);
like($a_out, qr/\Q$stock\E/, 'share_alice gets stock\'s rows');
ok(files_bytes() <= $limit / 2, 'on disk: the spill files are within her share (' . files_bytes() . ' bytes)');
is(files(), $node->safe_psql('postgres',
		'SELECT count(*) FROM parallel_material.shared_results WHERE spill_file IS NOT NULL'),
	'every spill file on disk belongs to a live entry');
my $a_entries = $node->safe_psql('postgres',
	"SELECT count(*) FROM parallel_material.shared_results WHERE producer_role = 'share_alice'::regrole AND spilled_bytes > 0");
ok($a_entries >= 1, "share_alice's session is gone, $a_entries of her spilled entries are kept");
ok(role_spill('share_alice') <= $limit / 2, 'the view: her spill is within half of share_spill_limit');
my @listed = split /\n/, $node->safe_psql('postgres',
	'SELECT spill_file FROM parallel_material.shared_results WHERE spill_file IS NOT NULL');
is(scalar(grep { -f "$datadir/$_" } @listed), scalar(@listed), 'and every listed file exists');

# Another database: share_bob there sees none of the entries of database postgres; a superuser
# (pg_read_all_stats) sees them, with their text.
is($node->safe_psql('other', 'SELECT count(*) FROM pg_extension WHERE extname = \'parallel_material\''), '0',
	'database other has no extension yet');
$node->safe_psql('other', 'CREATE EXTENSION parallel_material');
($rc, $out, $err) = $node->psql('other', 'SELECT count(*) FROM parallel_material.shared_results',
	extra_params => [ '-U', 'share_bob' ]);
is($out, '0', "share_bob in another database sees no entry of database postgres");
ok($node->safe_psql('other', "SELECT count(*) FROM parallel_material.shared_results WHERE query LIKE '%FROM tb%'") > 0,
	'a superuser there sees them');
($rc, $out, $err) = $node->psql('postgres',
	"SELECT count(*) FILTER (WHERE query LIKE '%FROM tb%') || ':' || count(*) FROM parallel_material.shared_results",
	extra_params => [ '-U', 'share_bob' ]);
is($out, "0:" . $node->safe_psql('postgres', 'SELECT count(*) FROM parallel_material.shared_results'),
	'share_bob in the same database sees every entry, without the text of hers');

# share_bob produces too: the cluster total holds, each role within its half.
my $b_out = run_as('share_bob', 0, 11);
like($b_out, qr/\Q$stock\E/, 'share_bob gets stock\'s rows');
ok(role_spill('share_bob') > 0, 'share_bob has spilled entries');
ok(role_spill('share_bob') <= $limit / 2, 'share_bob within his half');
ok(role_spill('share_alice') <= $limit / 2, 'share_alice still within hers');
ok($node->safe_psql('postgres', 'SELECT coalesce(sum(spilled_bytes), 0) FROM parallel_material.shared_results') <= $limit,
	'the view: the total is within share_spill_limit');
ok(files_bytes() <= $limit, 'on disk: the total is within share_spill_limit (' . files_bytes() . ' bytes)');
is(files(), $node->safe_psql('postgres',
		'SELECT count(*) FROM parallel_material.shared_results WHERE spill_file IS NOT NULL'),
	'every spill file on disk belongs to a live entry');

# Reset removes every file.
$node->safe_psql('postgres', 'SELECT parallel_material.reset_shared_results()');
is(files(), 0, 'reset_shared_results() removed every spill file');

$node->stop;
done_testing();
