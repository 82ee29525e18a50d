# 090_arrangement_dump_restore.pl — pg_dump and restore of a database with arrangements on tables
# that are no maintained view's input. The dump carries the maintenance triggers
# pm_arrangement_<defid>[_truncate] and parallel_material.arrangement_restore_defs (an extension
# configuration table: definitions by table and column names) and the id sequence, but not
# arrangement_defs (relation OIDs). Before the fix every write to such a table failed in the
# restored database ("is not an arrangement's maintenance trigger"). Now: writes succeed (the
# restored triggers do nothing: no arrangement exists), queries give stock results, the owner's
# restore_arrangements re-creates them (used and exact afterwards), new ids do not meet restored
# triggers' ids, and another role can neither restore nor gain anything.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('arrdump');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE aowner LOGIN;
	CREATE ROLE intruder LOGIN;
	CREATE DATABASE src OWNER aowner;
});
$node->safe_psql('src', q{
	CREATE EXTENSION parallel_material;
	SET ROLE aowner;
	CREATE TABLE t (k int, v text, n int);
	INSERT INTO t SELECT g % 50, 'v' || g, g FROM generate_series(1, 500) g;
	CREATE TABLE probe (k int);
	INSERT INTO probe SELECT g FROM generate_series(0, 60) g;
	ANALYZE t, probe;
	SELECT parallel_material.create_arrangement('t', ARRAY['k']);
	SELECT parallel_material.create_arrangement('t', ARRAY['n'], ARRAY['n', 'v']);
	GRANT SELECT, INSERT ON t TO intruder;
	-- renamed, a key column renamed and moved to another schema after its arrangement was made
	CREATE TABLE r_old (k int, w int);
	INSERT INTO r_old SELECT g, g FROM generate_series(1, 20) g;
	SELECT parallel_material.create_arrangement('r_old', ARRAY['k']);
	ALTER TABLE r_old RENAME TO r_new;
	ALTER TABLE r_new RENAME COLUMN k TO kk;
	CREATE SCHEMA s2;
	ALTER TABLE r_new SET SCHEMA s2;
});
my $src_ids = $node->safe_psql('src', 'SELECT string_agg(defid::text, \',\' ORDER BY defid) FROM parallel_material.arrangement_defs');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst OWNER aowner');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass AND tgname LIKE 'pm\_arrangement\_%'}),
	'4', 'the maintenance triggers came back');
is($node->safe_psql('dst', 'SELECT count(*) FROM parallel_material.arrangement_defs'), '0', 'no definition came back');

# Writes through every path succeed (before the fix: "is not an arrangement's maintenance trigger").
my ($rc, $out, $err) = $node->psql('dst', q{SET ROLE aowner; INSERT INTO t VALUES (1, 'new', 1001)});
is($rc, 0, 'INSERT into the restored table succeeds') or diag($err);
($rc, $out, $err) = $node->psql('dst', q{SET ROLE aowner; UPDATE t SET v = 'u' || n WHERE k = 2});
is($rc, 0, 'UPDATE succeeds') or diag($err);
($rc, $out, $err) = $node->psql('dst', q{SET ROLE aowner; DELETE FROM t WHERE k = 3});
is($rc, 0, 'DELETE succeeds') or diag($err);
($rc, $out, $err) = $node->psql('dst', qq{SET ROLE aowner; COPY t FROM STDIN;\n4\tcopied\t2001\n\\.\n});
is($rc, 0, 'COPY succeeds') or diag($err);
($rc, $out, $err) = $node->psql('dst', q{SET ROLE intruder; INSERT INTO t VALUES (5, 'intruder', 3001)});
is($rc, 0, 'a write by another role with INSERT succeeds') or diag($err);
is($node->safe_psql('dst', 'SELECT count(*) FROM t'), '493', 'the writes took effect');
($rc, $out, $err) = $node->psql('dst', q{SET ROLE aowner; INSERT INTO s2.r_new VALUES (21, 21); UPDATE s2.r_new SET w = 0 WHERE kk = 1});
is($rc, 0, 'writes to a table renamed (and its key column, and moved) after its arrangement was made succeed') or diag($err);
is($node->safe_psql('dst', 'SELECT string_agg(defid::text, \',\' ORDER BY defid) FROM parallel_material.arrangement_restore_defs'),
	$src_ids, 'the dumped definitions came back');

my $join = 'SELECT count(*), sum(t.n), string_agg(t.v, \',\' ORDER BY t.n, t.v) FROM probe p JOIN t ON t.k = p.k';
my $stock = 'SET parallel_material.enable_arrangement_join = off; SET parallel_material.enable = off;';
my $forced = 'SET enable_hashjoin = off; SET enable_mergejoin = off;';
is($node->safe_psql('dst', "$forced $join"), $node->safe_psql('dst', "$stock $join"),
	'a join in the restored database gives stock results');
unlike($node->safe_psql('dst', "$forced EXPLAIN (COSTS OFF) $join"), qr/ArrangementJoin/,
	'no arrangement is used before restore_arrangements');

# A trigger that names no dumped definition of its table is still refused (here: a dumped
# definition of t's id put on another table by a superuser).
$node->safe_psql('dst', q{CREATE TABLE other (k int, v text, n int);
	CREATE TRIGGER pm_arrangement_1 AFTER INSERT OR UPDATE OR DELETE ON other FOR EACH ROW
	  EXECUTE FUNCTION parallel_material._arrangement_trigger('1');
	ALTER TABLE other ENABLE ALWAYS TRIGGER pm_arrangement_1});
($rc, $out, $err) = $node->psql('dst', q{INSERT INTO other VALUES (1, 'x', 1)});
like($err, qr/is not an arrangement's maintenance trigger/, 'a dumped id on another table is still refused');
$node->safe_psql('dst', 'DROP TABLE other');

# Another role can restore nothing of t.
($rc, $out, $err) = $node->psql('dst', q{SET ROLE intruder; SELECT * FROM parallel_material.restore_arrangements('t')});
like($err, qr/must be owner of table t/, "another role cannot restore the owner's arrangements");
is($node->safe_psql('dst', q{SET ROLE intruder; SELECT count(*) FROM parallel_material.restore_arrangements()}),
	'0', 'restore_arrangements() of another role restores nothing of the owner');
is($node->safe_psql('dst', 'SELECT count(*) FROM parallel_material.arrangement_defs'), '0', 'still nothing restored');

# The owner restores: each dumped definition re-created by column names.
is($node->safe_psql('dst', q{SET ROLE aowner; SELECT string_agg(relation::text || ' ' || key::text || ' ' || dumped_defid, '; ' ORDER BY dumped_defid)
	  FROM parallel_material.restore_arrangements()}),
	"t {k} 1; t {n} 2; s2.r_new {kk} 3", 'restore_arrangements reports what it re-created (by the names at dump time)');
is($node->safe_psql('dst', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass AND tgname LIKE 'pm\_arrangement\_%'}),
	'4', 'the restored triggers were replaced, not added to');
my $new_ids = $node->safe_psql('dst', 'SELECT string_agg(defid::text, \',\' ORDER BY defid) FROM parallel_material.arrangement_defs');
is($new_ids, '4,5,6', 'the new definitions take ids after the dumped ones');
is($node->safe_psql('dst', 'SELECT string_agg(defid::text, \',\' ORDER BY defid) FROM parallel_material.arrangement_restore_defs'),
	$new_ids, 'the dumped rows were replaced by the new definitions');
is($node->safe_psql('dst', q{SELECT string_agg(key::text || ':' || state, ',' ORDER BY key::text COLLATE "C") FROM parallel_material.arrangements}),
	'{kk}:ready,{k}:ready,{n}:ready', 'the arrangements are built');
is($node->safe_psql('dst', q{SET ROLE aowner; SELECT count(*) FROM parallel_material.restore_arrangements()}), '0',
	'a second restore_arrangements has nothing to do');

like($node->safe_psql('dst', "$forced EXPLAIN (COSTS OFF) $join"), qr/ArrangementJoin/,
	'the join probes the re-created arrangement');
$node->safe_psql('dst', q{SET ROLE aowner; INSERT INTO t VALUES (6, 'after', 4001); UPDATE t SET n = n + 10000 WHERE k = 7; DELETE FROM t WHERE k = 8});
is($node->safe_psql('dst', "$forced $join"), $node->safe_psql('dst', "$stock $join"),
	'exact through the arrangement after writes');
$node->safe_psql('dst', q{SET ROLE aowner; TRUNCATE t; INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)});
is($node->safe_psql('dst', "$forced $join"), $node->safe_psql('dst', "$stock $join"),
	'exact after TRUNCATE');

# A new arrangement in the restored database: an id of its own.
$node->safe_psql('dst', q{SET ROLE aowner; SELECT parallel_material.create_arrangement('probe', ARRAY['k'])});
is($node->safe_psql('dst', q{SELECT defid FROM parallel_material.arrangement_defs WHERE relid = 'probe'::regclass}),
	'7', 'a new definition takes a fresh id');
is($node->safe_psql('dst', q{SELECT count(*) FROM parallel_material.arrangement_check('s2.r_new')}), '0',
	'the renamed table\'s arrangement is exact');

# TRUNCATE in a second restore, before restore_arrangements (the statement trigger).
$node->safe_psql('postgres', 'CREATE DATABASE dst2 OWNER aowner');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst2'), $dump ], 'pg_restore again');
($rc, $out, $err) = $node->psql('dst2', q{SET ROLE aowner; TRUNCATE t});
is($rc, 0, 'TRUNCATE of the restored table succeeds') or diag($err);

# The source database is untouched.
is($node->safe_psql('src', 'SELECT string_agg(defid::text, \',\' ORDER BY defid) FROM parallel_material.arrangement_defs'),
	$src_ids, 'the source keeps its definitions');
$node->safe_psql('src', q{SET ROLE aowner; INSERT INTO t VALUES (1, 'src', 9)});
is($node->safe_psql('src', "$forced $join"), $node->safe_psql('src', "$stock $join"), 'the source stays exact');

$node->stop;
done_testing();
