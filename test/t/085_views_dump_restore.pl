# 085_views_dump_restore.pl — pg_dump and restore of a database with maintained views. The dump
# carries each view's table (with its data and indexes) and the inputs' pm_view_<id>_* triggers,
# and the definitions (parallel_material.view_restore_defs, an extension configuration table),
# but not the binding (parallel_material.view_defs names relation OIDs, which a restore changes).
# In the restored database a write to an input must never leave a view silently stale: it fails
# with an error naming the view and parallel_material.restore_view, which binds the definition
# to the restored table again (arrangements, triggers, dependencies) and refills it; the view is
# then maintained and exact. A view created in the restored database takes an id of its own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE vowner LOGIN;
	CREATE DATABASE src OWNER vowner;
});
$node->safe_psql('src', q{
	CREATE EXTENSION parallel_material;
	SET ROLE vowner;
	CREATE TABLE ord (o_key int PRIMARY KEY, o_cust int);
	CREATE TABLE line (l_ord int, l_n int, l_price numeric);
	INSERT INTO ord SELECT g, g % 7 FROM generate_series(1, 200) g;
	INSERT INTO line SELECT g % 200 + 1, g, g * 0.25 FROM generate_series(1, 800) g;
	SET client_min_messages = warning;
	SELECT parallel_material.create_view('v_join', $$
	  SELECT o.o_key, o.o_cust, l.l_n, l.l_price FROM ord o JOIN line l ON l.l_ord = o.o_key $$);
	SELECT parallel_material.create_view('v_agg', $$
	  SELECT o.o_cust, count(*) AS n, sum(l.l_price) AS s, max(l.l_n) AS mx
	    FROM ord o JOIN line l ON l.l_ord = o.o_key GROUP BY o.o_cust $$);
	SELECT parallel_material.create_view('v_one', $$
	  SELECT count(*) AS n, min(l.l_n) AS mn FROM ord o JOIN line l ON l.l_ord = o.o_key $$);
	-- one input, so no arrangement (whose own restored triggers would fail writes anyway)
	CREATE TABLE solo (x int);
	INSERT INTO solo SELECT g FROM generate_series(1, 10) g;
	SELECT parallel_material.create_view('v_single', 'SELECT count(*) AS n, sum(x) AS s FROM solo');
	GRANT SELECT ON v_join TO PUBLIC;
});

my $check = sub {
	my ($db, $v) = @_;
	return $node->safe_psql($db, "SET ROLE vowner; SELECT count(*) FROM parallel_material.view_check('$v')");
};
is($check->('src', $_), '0', "$_ exact in the source database") for qw(v_join v_agg v_one v_single);

# Dump (custom format) and restore into a fresh database.
my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst OWNER vowner');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

# The tables came back with their data and the triggers on the inputs.
is($node->safe_psql('dst', 'SELECT count(*) FROM v_join'), $node->safe_psql('src', 'SELECT count(*) FROM v_join'),
	'the view table came back with its rows');
is($node->safe_psql('dst', q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pm\_view\_%' AND tgrelid = 'line'::regclass}),
	$node->safe_psql('src', q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pm\_view\_%' AND tgrelid = 'line'::regclass}),
	'the maintenance triggers came back');
is($node->safe_psql('dst', 'SELECT count(*) FROM parallel_material.view_restore_defs'), '4',
	'the definitions came back');

# A write to an input before the views are bound again: an error, never a stale view.
my ($rc, $out, $err) = $node->psql('dst', q{SET ROLE vowner; INSERT INTO line VALUES (1, 9001, 1.5)});
isnt($rc, 0, 'a write to an input of an unbound restored view fails');
like($err, qr/maintained view .*v_(join|agg|one).* was restored from a dump and is not maintained yet/,
	'the error names the restored view');
like($err, qr/restore_view/, 'the hint names restore_view');
($rc, $out, $err) = $node->psql('dst', q{SET ROLE vowner; DELETE FROM ord WHERE o_key = 3});
isnt($rc, 0, 'a delete from the other input fails too');
is($node->safe_psql('dst', 'SELECT count(*) FROM line WHERE l_n = 9001'), '0', 'nothing was written');
# A view whose input has no arrangement: before the check, this write succeeded and left the
# restored view silently stale.
($rc, $out, $err) = $node->psql('dst', q{SET ROLE vowner; INSERT INTO solo VALUES (100)});
isnt($rc, 0, 'a write to the input of an unbound view without arrangements fails');
like($err, qr/maintained view public.v_single \(id \d+\) was restored from a dump/, 'naming v_single');
is($node->safe_psql('dst', 'SELECT n || \'/\' || s FROM v_single'), '10/55', 'the restored row as dumped');

# Another role cannot bind the owner's view.
$node->safe_psql('postgres', 'CREATE ROLE stranger LOGIN');
($rc, $out, $err) = $node->psql('dst', q{SET ROLE stranger; SELECT parallel_material.restore_view('v_join')});
like($err, qr/must be owner/, 'restore_view: only the owner');

# Bind them again; the restored tables are refilled and maintained.
$node->safe_psql('dst', q{SET ROLE vowner; SET client_min_messages = warning;
	SELECT parallel_material.restore_view('v_join');
	SELECT parallel_material.restore_view('v_agg');
	SELECT parallel_material.restore_view('v_one');
	SELECT parallel_material.restore_view('v_single');
	INSERT INTO solo VALUES (100);});
is($check->('dst', $_), '0', "$_ exact after restore_view") for qw(v_join v_agg v_one v_single);
($rc, $out, $err) = $node->psql('dst', q{SET ROLE vowner; SELECT parallel_material.restore_view('v_join')});
like($err, qr/already maintained/, 'restore_view twice: an error');
$node->safe_psql('dst', q{SET ROLE vowner;
	INSERT INTO line VALUES (1, 9001, 1.5), (2, 9002, 2.5);
	UPDATE ord SET o_cust = 99 WHERE o_key = 1;
	DELETE FROM line WHERE l_ord = 5;
	DELETE FROM line WHERE l_n = (SELECT min(l_n) FROM line);});
is($check->('dst', $_), '0', "$_ exact after writes in the restored database") for qw(v_join v_agg v_one v_single);
is($node->safe_psql('dst', q{SELECT string_agg(name::text, ',' ORDER BY name::text) FROM parallel_material.views}),
	'v_agg,v_join,v_one,v_single', 'the views view lists the bound views');
is($node->safe_psql('dst', q{SELECT count(*) FROM parallel_material.arrangements}), '2',
	'their arrangements were created again');
# the grant on the restored table survived (the table was kept, not recreated)
is($node->safe_psql('dst', q{SELECT has_table_privilege('stranger', 'v_join', 'SELECT')}), 't',
	'the restored table kept its grants');

# A view created in the restored database takes an id that no restored trigger uses.
$node->safe_psql('dst', q{SET ROLE vowner; SET client_min_messages = warning;
	CREATE TABLE t2 (k int, x int);
	SELECT parallel_material.create_view('v_new', 'SELECT count(*) AS n, sum(x) AS s FROM t2');
	INSERT INTO t2 VALUES (1, 2);
	INSERT INTO line VALUES (3, 9003, 3.5);});
is($check->('dst', $_), '0', "$_ exact beside a new view") for qw(v_new v_join v_agg v_one v_single);
is($node->safe_psql('dst', 'SELECT n || \'/\' || s FROM v_single'), '11/155', 'v_single maintained');
is($node->safe_psql('dst', q{SELECT count(DISTINCT viewid) FROM parallel_material.view_defs}), '5',
	'five views, five ids');

# drop_view of a bound view removes its restore definition as well
$node->safe_psql('dst', q{SET ROLE vowner; SET client_min_messages = warning; SELECT parallel_material.drop_view('v_new')});
is($node->safe_psql('dst', 'SELECT count(*) FROM parallel_material.view_restore_defs'), '4',
	'drop_view removed its definition');

# The source database was never affected.
$node->safe_psql('src', q{SET ROLE vowner; INSERT INTO line VALUES (4, 9004, 4.5)});
is($check->('src', $_), '0', "$_ still exact in the source database") for qw(v_join v_agg v_one v_single);

$node->stop;
done_testing();
