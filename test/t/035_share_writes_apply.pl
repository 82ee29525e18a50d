# 035_share_writes_apply.pl — attack (issue 12, item 3): every change a logical replication apply
# worker makes must reach the shared results of the subscriber, which it writes without a
# statement of any session. 007 checks that the global version moves; this test checks the
# rows: a shared result on the subscriber is never served once the apply worker has applied an
# INSERT, UPDATE, DELETE or TRUNCATE, neither to a new snapshot nor to a REPEATABLE READ one
# taken before the apply. The TRUNCATE case failed before the fix: the apply worker's commit was
# counted as an MVCC-safe write of everything, so the older snapshot kept its key and got the
# rows of the shared entry, where stock PostgreSQL shows it the emptied table.
# Three login roles on the subscriber: the owner of the table, two readers.
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

$pub->safe_psql('postgres', q{
	CREATE TABLE t (a int PRIMARY KEY, b int);
	INSERT INTO t SELECT g, g FROM generate_series(1, 10) g;
	CREATE PUBLICATION p FOR TABLE t});
$sub->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE ROLE owner_r LOGIN; CREATE ROLE reader1 LOGIN; CREATE ROLE reader2 LOGIN;
	CREATE TABLE t (a int PRIMARY KEY, b int);
	GRANT SELECT ON t TO reader1, reader2});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p");
$sub->wait_for_subscription_sync($pub, 's');
ok($sub->poll_query_until('postgres',
		"SELECT global_version IS NOT NULL FROM parallel_material.data_version_info('t')", 't'),
	'key computable on the subscriber');

my $settings = q{SET parallel_material.enable = on;
SET parallel_material.share_across_sessions = on;
SET parallel_material.share_min_cost = 0;
SET max_parallel_workers_per_gather = 0;};
my $q = 'SELECT count(*) || \'/\' || coalesce(sum(b), 0) FROM t';
# What the whole-result node of $q did in the session (produced / hit / skipped (...)).
my $sharing = q{SELECT value->>'Cross-Session Sharing' FROM jsonb_path_query(
	(SELECT pm_plan FROM pm_plan('SELECT count(*) || ''/'' || coalesce(sum(b), 0) FROM t')),
	'strict $.**') AS value
	WHERE jsonb_typeof(value) = 'object' AND value ? 'Shared Site' LIMIT 1};
$sub->safe_psql('postgres', q{
	CREATE FUNCTION pm_plan(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
	DECLARE plan jsonb;
	BEGIN
	  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
	  RETURN plan;
	END $$});

my $r1 = $sub->background_psql('postgres');
my $r2 = $sub->background_psql('postgres');
$r1->query_safe("$settings SET SESSION AUTHORIZATION reader1;");
$r2->query_safe("$settings SET SESSION AUTHORIZATION reader2;");

# Stock's answer on the subscriber, from a session without the extension's planning.
sub stock {
	return $sub->safe_psql('postgres', "SET parallel_material.enable = off; $q");
}

# Each applied change: reader1 fills the shared entry before it, reader2 (already holding a
# REPEATABLE READ snapshot from before the change) and reader1 (a new snapshot) read after it.
sub attack {
	my ($name, $change, $stock_before) = @_;
	is($r1->query_safe($q), $stock_before, "$name: reader1 before");
	is($r1->query_safe($sharing), 'hit', "$name: the result is shared before the change");
	$r2->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;');
	$pub->safe_psql('postgres', $change);
	$pub->wait_for_catchup('s');
	my $stock_after = stock();
	isnt($stock_after, $stock_before, "$name: applied on the subscriber");
	is($r1->query_safe($q), $stock_after, "$name: a new snapshot sees the applied change");
	# Under REPEATABLE READ stock shows the rows of the snapshot for row changes, and the emptied
	# table after a TRUNCATE (not MVCC-safe).
	my $rr_stock = $name eq 'truncate' ? $stock_after : $stock_before;
	is($r2->query_safe($q), $rr_stock, "$name: an older REPEATABLE READ snapshot gets stock's rows");
	$r2->query_safe('COMMIT;');
	is($r2->query_safe($q), $stock_after, "$name: reader2 after its transaction");
}

attack('insert', 'INSERT INTO t SELECT g, g FROM generate_series(11, 12) g', '10/55');
attack('update', 'UPDATE t SET b = b + 100 WHERE a <= 2', '12/78');
attack('delete', 'DELETE FROM t WHERE a > 10', '12/278');
attack('truncate', 'TRUNCATE t', '10/255');

$r1->quit;
$r2->quit;
$sub->stop;
$pub->stop;
done_testing();
