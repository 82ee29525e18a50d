# 060_views_restart.pl — maintained views across a crash and a restart: the view table is an
# ordinary WAL-logged table, so committed maintenance survives and uncommitted maintenance goes
# with its transaction; arrangements come back invalid, and writes that arrive before they are
# rebuilt still maintain the view exactly (their delta joins use stock plans), after which the
# delta joins probe the rebuilt arrangements again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('views');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE customer (c_custkey int PRIMARY KEY, c_name text);
	CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_custkey int, o_date date);
	CREATE TABLE lineitem (l_orderkey int, l_line int, l_price numeric);
	INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 100) g;
	INSERT INTO orders SELECT g, g % 100 + 1, date '2020-01-01' + g % 300 FROM generate_series(1, 1000) g;
	INSERT INTO lineitem SELECT g % 1000 + 1, g, g * 0.5 FROM generate_series(1, 4000) g;
	SELECT parallel_material.create_view('v3', $$
	  SELECT c.c_name, o.o_date, l.l_price FROM customer c
	    JOIN orders o ON o.o_custkey = c.c_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey $$);
});
my $check = q{SELECT count(*) FROM parallel_material.view_check('v3')};
is($node->safe_psql('postgres', $check), '0', 'exact after create_view');

# Committed writes, and a transaction left open (its writes maintained, not committed) when the
# server crashes.
$node->safe_psql('postgres', q{
	INSERT INTO lineitem SELECT 7, 10000 + g, g FROM generate_series(1, 50) g;
	UPDATE orders SET o_custkey = 5 WHERE o_orderkey BETWEEN 20 AND 40;
	DELETE FROM customer WHERE c_custkey = 9;
});
my $open = $node->background_psql('postgres');
$open->query_safe(q{BEGIN; INSERT INTO lineitem SELECT 8, 20000 + g, g FROM generate_series(1, 30) g; DELETE FROM orders WHERE o_orderkey < 10;});
my $rows_before = $node->safe_psql('postgres', 'SELECT count(*) FROM v3');
$node->stop('immediate');
eval { $open->quit; };
$node->start;

is($node->safe_psql('postgres', $check), '0', 'exact after a crash (uncommitted maintenance rolled back)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM v3'), $rows_before, 'committed maintenance survived');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.arrangements WHERE state = 'invalid'}),
	'4', 'arrangements are invalid after the crash');

# Writes before any rebuild: exact, and the arrangements are still not rebuilt by them (a
# delta plan never builds: the planner only uses ready arrangements).
$node->safe_psql('postgres', q{
	INSERT INTO lineitem SELECT 11, 30000 + g, g FROM generate_series(1, 20) g;
	UPDATE lineitem SET l_orderkey = 12 WHERE l_orderkey = 13;
	DELETE FROM orders WHERE o_orderkey = 14;
	INSERT INTO customer VALUES (9, 'back');
});
is($node->safe_psql('postgres', $check), '0', 'writes before the rebuild keep the view exact');

# The owner's reads rebuild the arrangements; later delta joins probe them.
$node->safe_psql('postgres', q{
	SELECT count(*) FROM parallel_material.arrangement_check('orders', '{o_orderkey}');
	SELECT count(*) FROM parallel_material.arrangement_check('orders', '{o_custkey}');
	SELECT count(*) FROM parallel_material.arrangement_check('lineitem', '{l_orderkey}');
	SELECT count(*) FROM parallel_material.arrangement_check('customer', '{c_custkey}');
});
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;
	SET parallel_material.debug_view_explain = on;
	INSERT INTO lineitem VALUES (15, 40000, 1);
});
like($err, qr/delta plan: Arrangement: orders \(o_orderkey\)/, 'delta joins probe the rebuilt arrangements');
unlike($err, qr/Fallback/, 'no fallback');
is($node->safe_psql('postgres', $check), '0', 'exact after the rebuild');

$node->stop;
done_testing();
