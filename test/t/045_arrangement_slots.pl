# 045_arrangement_slots.pl — the cluster's 64 arrangement slots are shared fairly: the slots of a
# dropped database come back (DROP DATABASE used to leak them until a restart), and one role or
# one database cannot take them all (parallel_material.arrangements_per_role / _per_database).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE DATABASE tmpl;
});
$node->safe_psql('tmpl', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE t1 (k int, v text); CREATE TABLE t2 (k int, v text); CREATE TABLE t3 (k int, v text);
	INSERT INTO t1 SELECT g, 'x' FROM generate_series(1, 100) g;
	ALTER TABLE t1 OWNER TO alice; ALTER TABLE t2 OWNER TO alice; ALTER TABLE t3 OWNER TO alice;
});

# 25 databases x 3 arrangements = 75 > 64 slots, each database dropped after use.
my $failures = 0;
my $last_err = '';
for my $i (1 .. 25) {
	$node->safe_psql('postgres', "CREATE DATABASE d$i TEMPLATE tmpl");
	my ($ret, $out, $err) = $node->psql("d$i", q{
		SELECT parallel_material.create_arrangement('t1', '{k}');
		SELECT parallel_material.create_arrangement('t2', '{k}');
		SELECT parallel_material.create_arrangement('t3', '{k}');
	}, extra_params => ['-U', 'alice', '-v', 'ON_ERROR_STOP=1']);
	if ($ret != 0) { $failures++; $last_err = $err; }
	$node->safe_psql('postgres', "DROP DATABASE d$i");
}
is($failures, 0, 'dropped databases give their slots back') or diag($last_err);

# Another role still gets a slot in another database.
$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE bob_t (k int) ; ALTER TABLE bob_t OWNER TO bob;
	CREATE TABLE alice_t1 (k int); ALTER TABLE alice_t1 OWNER TO alice;
	CREATE TABLE alice_t2 (k int); ALTER TABLE alice_t2 OWNER TO alice;
	CREATE TABLE alice_t3 (k int); ALTER TABLE alice_t3 OWNER TO alice;
	CREATE TABLE bob_t2 (k int) ; ALTER TABLE bob_t2 OWNER TO bob;
});
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('bob_t', '{k}')", extra_params => ['-U', 'bob']);
is($ret, 0, 'another role can create an arrangement after the churn') or diag($err);

# Per-role cap: alice's tables may hold 2; bob is not affected by alice's count.
$node->append_conf('postgresql.conf', qq{
parallel_material.arrangements_per_role = 2
parallel_material.arrangements_per_database = 4
});
$node->reload;
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT parallel_material.create_arrangement('alice_t1', '{k}');
	SELECT parallel_material.create_arrangement('alice_t2', '{k}');
}, extra_params => ['-U', 'alice', '-v', 'ON_ERROR_STOP=1']);
is($ret, 0, 'alice creates two') or diag($err);
($ret, $out, $err) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('alice_t3', '{k}')", extra_params => ['-U', 'alice']);
like($err, qr/too many arrangements on tables owned by role "alice" \(at most 2\)/,
	'a third one for alice: clear error');
# The cap counts the table's owner, not the caller: a superuser creating one on alice's table.
($ret, $out, $err) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('alice_t3', '{k}')");
like($err, qr/owned by role "alice"/, 'counted against the owner');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('bob_t2', '{k}')", extra_params => ['-U', 'bob']);
is($ret, 0, 'bob still gets his second one') or diag($err);
# Per-database cap: this database holds 4 now.
$node->safe_psql('postgres', q{CREATE TABLE su_t (k int)});
($ret, $out, $err) = $node->psql('postgres',
	"SELECT parallel_material.create_arrangement('su_t', '{k}')");
like($err, qr/too many arrangements in this database \(at most 4\)/, 'per-database cap');
# ... while another database still has room.
$node->safe_psql('postgres', 'CREATE DATABASE other TEMPLATE tmpl');
($ret, $out, $err) = $node->psql('other', q{
	ALTER TABLE t1 OWNER TO carol;
	SELECT parallel_material.create_arrangement('t1', '{k}');
	SELECT count(*) FROM parallel_material.arrangement_check('t1');
});
is($ret, 0, 'another database has room') or diag($err);
is($node->safe_psql('other', q{SELECT state FROM parallel_material.arrangements}), 'ready',
	'ready in the other database');

# The memory of a dropped database's arrangements comes back when the region fills up, even
# without another build: bob's deltas need the room a dropped database's arrangement held.
$node->append_conf('postgresql.conf', qq{
parallel_material.arrangements_per_role = 64
parallel_material.arrangements_per_database = 64
parallel_material.arrangement_memory_per_role = 0
});
$node->reload;
$node->safe_psql('postgres', 'CREATE DATABASE big TEMPLATE tmpl');
$node->safe_psql('big', q{
	INSERT INTO t1 SELECT g, repeat('x', 100) FROM generate_series(1, 120000) g;
	SELECT parallel_material.create_arrangement('t1', '{k}');
});
$node->safe_psql('postgres', 'DROP DATABASE big');
($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO bob_t SELECT g FROM generate_series(1, 100000) g", extra_params => ['-U', 'bob']);
is($ret, 0, "bob's insert succeeds") or diag($err);
unlike($err, qr/marked invalid/, "bob's arrangement was not invalidated");
is($node->safe_psql('postgres',
	"SELECT state FROM parallel_material.arrangements WHERE relation = 'bob_t'::regclass"),
	'ready', "bob's arrangement ready after the dropped database's memory came back");
is($node->safe_psql('postgres',
	"SELECT count(*) FROM parallel_material.arrangement_check('bob_t')"), '0', 'and exact');

$node->stop;
done_testing();
