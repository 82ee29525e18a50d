# 007_data_versions_replication.pl — logical replication applies rows without executors: every
# transaction of an apply (or table sync) worker counts as a write of every relation, so on the
# subscriber the global version (part of every key) changes with each applied transaction.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'parallel_material'");
$sub->start;

$pub->safe_psql('postgres',
	'CREATE TABLE t (a int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE PUBLICATION p FOR TABLE t');
$sub->safe_psql('postgres', 'CREATE EXTENSION parallel_material; CREATE TABLE t (a int PRIMARY KEY)');
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p");
$sub->wait_for_subscription_sync($pub, 's');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM t'), '1', 'initial copy arrived');

my $key = q{SELECT coalesce(global_version::text, skip_reason) || '/' || coalesce(version::text, '-')
	FROM parallel_material.data_version_info('t')};
# Wait until the key is computable (the tracking horizon is behind every snapshot).
ok($sub->poll_query_until('postgres',
		"SELECT global_version IS NOT NULL FROM parallel_material.data_version_info('t')", 't'),
	'key computable on the subscriber');
my $before = $sub->safe_psql('postgres', $key);

$pub->safe_psql('postgres', 'INSERT INTO t VALUES (2)');
$pub->wait_for_catchup('s');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM t'), '2', 'the insert was applied');
my $after;
ok($sub->poll_query_until('postgres',
		"SELECT global_version IS NOT NULL FROM parallel_material.data_version_info('t')", 't'),
	'key computable after the apply');
$after = $sub->safe_psql('postgres', $key);
isnt($after, $before, "the applied transaction changed the key ($before -> $after)");
my ($g_before) = split m{/}, $before;
my ($g_after) = split m{/}, $after;
cmp_ok($g_after, '>', $g_before, 'through the global version');

# An update and a delete: each applied transaction moves the global version again.
$pub->safe_psql('postgres', 'UPDATE t SET a = 3 WHERE a = 2');
$pub->wait_for_catchup('s');
$pub->safe_psql('postgres', 'DELETE FROM t WHERE a = 1');
$pub->wait_for_catchup('s');
is($sub->safe_psql('postgres', 'SELECT string_agg(a::text, \',\' ORDER BY a) FROM t'), '3',
	'update and delete applied');
ok($sub->poll_query_until('postgres',
		"SELECT global_version > $g_after + 1 FROM parallel_material.data_version_info('t')", 't'),
	'two more applied transactions, two more global versions (at least)');

$sub->stop;
$pub->stop;
done_testing();
