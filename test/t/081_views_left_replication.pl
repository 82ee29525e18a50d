# 081_views_left_replication.pl — LEFT JOIN views (docs/views.md, "LEFT JOIN views") kept exact
# by a logical replication apply worker's writes, which reach the maintenance through the row
# trigger and the pre-commit flush (view_row_changes.cpp), not the statement triggers. On the
# subscriber: a LEFT JOIN view and a self LEFT JOIN over subscribed tables; after each change on
# the publisher (first matches, last matches deleted, key updates on both sides, NULL keys, a
# transaction writing both sides, TRUNCATE) and the subscriber's catch-up, view_check is empty.
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
$sub->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
});
$sub->start;

my $schema = q{
	CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_note text);
	CREATE TABLE lineitem (l_id int PRIMARY KEY, l_orderkey int, l_price int);
	CREATE TABLE emp (id int PRIMARY KEY, boss int, name text);
};
$pub->safe_psql('postgres', $schema . q{
	INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 30) g;
	INSERT INTO lineitem SELECT g, g % 20 + 1, g FROM generate_series(1, 40) g;
	INSERT INTO emp SELECT g, CASE WHEN g > 1 THEN g / 2 END, 'e' || g FROM generate_series(1, 20) g;
	CREATE PUBLICATION p FOR TABLE orders, lineitem, emp});
$sub->safe_psql('postgres', $schema . q{CREATE EXTENSION parallel_material;});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p");
$sub->wait_for_subscription_sync($pub, 's');

$sub->safe_psql('postgres', q{
	SELECT parallel_material.create_view('v_left', $$
	  SELECT o.o_orderkey, o.o_note, l.l_id, l.l_price FROM orders o
	    LEFT JOIN lineitem l ON l.l_orderkey = o.o_orderkey $$);
	SELECT parallel_material.create_view('v_bosses', $$
	  SELECT b.id, b.name, e.name AS report FROM emp b LEFT JOIN emp e ON e.boss = b.id $$);});

sub change {
	my ($name, $sql) = @_;
	$pub->safe_psql('postgres', $sql);
	$pub->wait_for_catchup('s');
	my $q = q{SELECT (SELECT count(*) || '/' || coalesce(sum(hashtext(o::text)), 0) FROM orders o)
	  || ' ' || (SELECT count(*) || '/' || coalesce(sum(hashtext(l::text)), 0) FROM lineitem l)
	  || ' ' || (SELECT count(*) || '/' || coalesce(sum(hashtext(e::text)), 0) FROM emp e)};
	is($sub->safe_psql('postgres', $q), $pub->safe_psql('postgres', $q), "$name: applied");
	for my $v ('v_left', 'v_bosses') {
		is($sub->safe_psql('postgres', "SELECT count(*) FROM parallel_material.view_check('$v')"),
			'0', "$name: $v exact on the subscriber");
	}
}

change('initial', 'SELECT 1');
change('first match', 'INSERT INTO lineitem VALUES (100, 25, 1)');
change('last matches deleted', 'DELETE FROM lineitem WHERE l_orderkey IN (3, 4)');
change('preserved rows', q{INSERT INTO orders VALUES (31, 'new'), (32, 'new2'); DELETE FROM orders WHERE o_orderkey = 5});
change('NULL key', 'INSERT INTO lineitem VALUES (101, NULL, 2); UPDATE emp SET boss = NULL WHERE id = 7');
change('key updates', 'UPDATE lineitem SET l_orderkey = 31 WHERE l_orderkey = 6; UPDATE orders SET o_orderkey = 40 WHERE o_orderkey = 8');
change('both sides in one transaction', q{BEGIN; INSERT INTO orders VALUES (41, 'x'); INSERT INTO lineitem VALUES (102, 41, 3), (103, 2, 4);
	DELETE FROM lineitem WHERE l_orderkey = 9; UPDATE emp SET boss = 3 WHERE id > 15; COMMIT});
change('truncate nullable side', 'TRUNCATE lineitem');
change('refill', 'INSERT INTO lineitem SELECT g, g % 20, g FROM generate_series(1, 60) g');

is($sub->safe_psql('postgres', 'SELECT count(*) FILTER (WHERE l_id IS NULL) > 0 AND count(*) FILTER (WHERE l_id IS NOT NULL) > 0 FROM v_left'),
	't', 'the view holds NULL-extended and matched rows');
done_testing();
