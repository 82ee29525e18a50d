# 046_arrangement_memory_roles.pl — one role's arrangements cannot starve another role's: region
# memory is charged to the table owner with a quota (parallel_material.arrangement_memory_per_role,
# default half of arrangement_memory), freed memory is reusable by any size, and compressible keys
# are not stored decompressed (a long key is stored as its digest).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memroles');
$node->init;
$node->append_conf("postgresql.conf", "parallel_material.arrangement_default_columns = all  # not about adaptive arrangements");
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '8MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE ROLE alice LOGIN;
	CREATE ROLE mallory LOGIN;
	CREATE TABLE a_t (k int, v text);
	CREATE TABLE a_t2 (k int, v text);
	CREATE TABLE m_t (k int, v text);
	CREATE TABLE m_keys (k text, v int);
	ALTER TABLE a_t OWNER TO alice; ALTER TABLE a_t2 OWNER TO alice;
	ALTER TABLE m_t OWNER TO mallory; ALTER TABLE m_keys OWNER TO mallory;
	GRANT USAGE ON SCHEMA parallel_material TO PUBLIC;
});
sub as {
	my ($role, $sql) = @_;
	return $node->psql('postgres', $sql, extra_params => ['-U', $role, '-v', 'ON_ERROR_STOP=1']);
}
my $state = "SELECT state FROM parallel_material.arrangements WHERE relation = 'a_t'::regclass";
my $check = "SELECT count(*) FROM parallel_material.arrangement_check('a_t')";

my ($ret, $out, $err) = as('alice', q{
	INSERT INTO a_t SELECT g, 'a' || g FROM generate_series(1, 100) g;
	SELECT parallel_material.create_arrangement('a_t', '{k}');
});
is($ret, 0, 'alice arranges her table') or diag($err);

# Mallory arranges a table; a reader with SELECT only caches a plan joining through it.
($ret, $out, $err) = as('mallory', q{
	INSERT INTO m_t SELECT g, 'm' || g FROM generate_series(1, 10) g;
	SELECT parallel_material.create_arrangement('m_t', '{k}');
});
is($ret, 0, 'mallory arranges her table') or diag($err);
$node->safe_psql('postgres', q{
	CREATE ROLE reader LOGIN;
	CREATE TABLE r_outer (k int); INSERT INTO r_outer VALUES (1), (2), (3); ANALYZE r_outer, m_t;
	GRANT SELECT ON m_t, r_outer TO reader;
});
my $bg = $node->background_psql('postgres', extra_params => ['-U', 'reader'], on_error_stop => 0);
$bg->query_safe(q{SET plan_cache_mode = force_generic_plan; SET enable_hashjoin = off;
	SET enable_mergejoin = off; SET enable_nestloop = off});
$bg->query_safe(q{PREPARE j AS SELECT string_agg(m.v, ',' ORDER BY m.k) FROM r_outer o JOIN m_t m ON m.k = o.k});
like($bg->query_safe('EXPLAIN (COSTS OFF) EXECUTE j'), qr/ArrangementJoin/, 'the cached plan probes');
is($bg->query_safe('EXECUTE j'), 'm1,m2,m3', 'the cached plan reads');

# Mallory fills her table until her arrangement no longer fits.
($ret, $out, $err) = as('mallory', q{
	INSERT INTO m_t SELECT g, repeat('m', 60) || g FROM generate_series(11, 100000) g;
});
is($ret, 0, "mallory's writes never fail") or diag($err);
is($node->safe_psql('postgres',
	"SELECT state FROM parallel_material.arrangements WHERE relation = 'm_t'::regclass"),
	'invalid', "mallory's own arrangement went invalid");
# The reader's cached plan is made again (stock plan): no error, the same rows.
my ($res, $failed) = $bg->query('EXECUTE j');
is($failed, 0, 'the cached plan does not meet the invalid arrangement') or diag($bg->{stderr});
is($res, 'm1,m2,m3', 'and returns the rows');
$bg->quit;

# Alice's work is unaffected: her deltas still fit, she can arrange another table.
($ret, $out, $err) = as('alice', q{
	INSERT INTO a_t SELECT g, repeat('a', 100) || g FROM generate_series(101, 5100) g;
});
is($ret, 0, "alice's writes succeed") or diag($err);
is($node->safe_psql('postgres', $state), 'ready', "alice's arrangement is still ready");
is($node->safe_psql('postgres', $check), '0', "and exact");
($ret, $out, $err) = as('alice', q{
	INSERT INTO a_t2 SELECT g, 'b' FROM generate_series(1, 5000) g;
	SELECT parallel_material.create_arrangement('a_t2', '{k}');
});
is($ret, 0, 'alice can still create an arrangement') or diag($err);

# Mallory rebuilding hers: a clear error naming the quota, and alice's stay ready.
($ret, $out, $err) = as('mallory', q{
	SELECT parallel_material.drop_arrangement('m_t');
	SELECT parallel_material.create_arrangement('m_t', '{k}');
});
like($err, qr/does not fit in parallel_material.arrangement_memory_per_role/,
	'over its quota: a clear error');
like($err, qr/tables owned by role "mallory"/, 'naming the owner');
is($node->safe_psql('postgres', $state), 'ready', "alice's arrangement untouched");

# Compressible keys: 300 rows whose 96 kB key compresses to a few hundred bytes. Stored
# decompressed they need 28 MB (more than the whole region); as digests they fit.
($ret, $out, $err) = as('mallory', q{
	TRUNCATE m_t;
	INSERT INTO m_keys SELECT repeat(md5(g::text), 3000), g FROM generate_series(1, 300) g;
	SELECT parallel_material.create_arrangement('m_keys', '{k}');
});
is($ret, 0, 'an arrangement on long compressible keys fits') or diag($err);
is($node->safe_psql('postgres',
	"SELECT count(*) FROM parallel_material.arrangement_check('m_keys')"), '0',
	'and is exact');
is($node->safe_psql('postgres', q{
	SELECT m_keys.v FROM parallel_material.arrangement_probe('m_keys', ARRAY[repeat(md5('7'), 3000)]) p
	  JOIN m_keys ON m_keys.ctid = p.tid}), '7',
	'a probe by a long key finds its row');
is($node->safe_psql('postgres', q{
	SET parallel_material.enable_arrangement_join = on;
	SET enable_hashjoin = off; SET enable_mergejoin = off;
	SELECT string_agg(m.v::text, ',' ORDER BY m.v)
	  FROM (VALUES (repeat(md5('5'), 3000)), (repeat(md5('6'), 3000)), ('short')) o(k)
	  JOIN m_keys m ON m.k = o.k}), '5,6', 'joins by long keys return stock rows');
like($node->safe_psql('postgres', q{
	SET parallel_material.enable_arrangement_join = on;
	SET enable_hashjoin = off; SET enable_mergejoin = off;
	EXPLAIN (COSTS OFF) SELECT m.v
	  FROM (VALUES (repeat(md5('5'), 3000)), (repeat(md5('6'), 3000)), ('short')) o(k)
	  JOIN m_keys m ON m.k = o.k}), qr/ArrangementJoin/, 'through the arrangement');
is($node->safe_psql('postgres', $state), 'ready', "alice's arrangement still ready");

$node->stop;
done_testing();
