# 080_views_replication.pl — attack (issue 13, "every write path"): maintained views whose inputs
# are written by a logical replication apply worker. The worker writes the subscribed tables
# without any statement: it fires row-level triggers (ENABLE ALWAYS / REPLICA ones) and
# TRUNCATE's statement triggers, never the INSERT/UPDATE/DELETE statement triggers that maintain
# views in ordinary sessions. Before the fix the views on the subscriber stayed behind every
# applied INSERT, UPDATE and DELETE (view_check listed the missing rows).
# On the subscriber: a two-table join view and a self-join view over subscribed tables, owned
# by a login role that is not the subscription's owner; after each change on the publisher and
# the subscriber's catch-up, view_check of both views is empty, and a local write on the
# subscriber (an ordinary session) still maintains them.
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
	CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_custkey int, o_status text);
	CREATE TABLE lineitem (l_orderkey int, l_line int, l_price int, PRIMARY KEY (l_orderkey, l_line));
	CREATE TABLE emp (id int PRIMARY KEY, boss int, name text);
};
$pub->safe_psql('postgres', $schema . q{
	INSERT INTO orders SELECT g, g % 7, 'o' FROM generate_series(1, 50) g;
	INSERT INTO lineitem SELECT g % 50 + 1, g, g FROM generate_series(1, 200) g;
	INSERT INTO emp SELECT g, CASE WHEN g > 1 THEN g / 2 END, 'e' || g FROM generate_series(1, 40) g;
	CREATE PUBLICATION p FOR TABLE orders, lineitem, emp});
$sub->safe_psql('postgres', $schema . q{
	CREATE EXTENSION parallel_material;
	CREATE ROLE view_owner LOGIN;
	ALTER TABLE orders OWNER TO view_owner;
	ALTER TABLE lineitem OWNER TO view_owner;
	ALTER TABLE emp OWNER TO view_owner;
	GRANT USAGE, CREATE ON SCHEMA public TO view_owner;
	CREATE ROLE reader LOGIN;});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p");
$sub->wait_for_subscription_sync($pub, 's');

$sub->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION view_owner;
	SELECT parallel_material.create_view('v_join', $$
	  SELECT o.o_orderkey, o.o_status, l.l_line, l.l_price FROM orders o
	    JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE l.l_price > 3 $$);
	SELECT parallel_material.create_view('v_self', $$
	  SELECT e.name AS emp, b.name AS boss FROM emp e JOIN emp b ON e.boss = b.id $$);
	GRANT SELECT ON v_join, v_self TO reader;});

sub exact {
	my ($name) = @_;
	for my $v ('v_join', 'v_self') {
		is($sub->safe_psql('postgres',
				"SET SESSION AUTHORIZATION view_owner; SELECT count(*) FROM parallel_material.view_check('$v')"),
			'0', "$name: $v exact on the subscriber");
	}
}
# The subscriber's tables equal the publisher's (the change was applied).
sub applied {
	my ($name) = @_;
	my $q = q{SELECT (SELECT count(*) || '/' || coalesce(sum(hashtext(o::text)), 0) FROM orders o)
	  || ' ' || (SELECT count(*) || '/' || coalesce(sum(hashtext(l::text)), 0) FROM lineitem l)
	  || ' ' || (SELECT count(*) || '/' || coalesce(sum(hashtext(e::text)), 0) FROM emp e)};
	is($sub->safe_psql('postgres', $q), $pub->safe_psql('postgres', $q), "$name: applied");
}
sub change {
	my ($name, $sql) = @_;
	$pub->safe_psql('postgres', $sql);
	$pub->wait_for_catchup('s');
	applied($name);
	exact($name);
}

exact('after create_view');
isnt($sub->safe_psql('postgres', 'SELECT count(*) FROM v_join'), '0', 'v_join has rows');
change('insert', q{
	INSERT INTO orders VALUES (100, 1, 'new');
	INSERT INTO lineitem SELECT 100, g, g FROM generate_series(1000, 1010) g;
	INSERT INTO emp VALUES (41, 20, 'e41'), (42, 41, 'e42')});
change('update of non-key columns', q{
	UPDATE lineitem SET l_price = l_price + 100 WHERE l_orderkey % 3 = 0;
	UPDATE lineitem SET l_price = 1 WHERE l_orderkey = 5;
	UPDATE emp SET name = name || 'x' WHERE id % 4 = 0});
change('update of join keys', q{
	UPDATE lineitem SET l_orderkey = 7 WHERE l_orderkey = 8;
	UPDATE orders SET o_orderkey = o_orderkey + 1000 WHERE o_orderkey % 10 = 0;
	UPDATE emp SET boss = 3 WHERE boss = 2;
	UPDATE emp SET id = 500 WHERE id = 5});
change('delete', q{
	DELETE FROM orders WHERE o_orderkey % 9 = 0;
	DELETE FROM lineitem WHERE l_line % 11 = 0;
	DELETE FROM emp WHERE id = 3});
change('multi-statement transaction', q{
	BEGIN;
	INSERT INTO orders VALUES (200, 2, 'tx');
	INSERT INTO lineitem SELECT 200, g, g FROM generate_series(1001, 1020) g;
	UPDATE lineitem SET l_orderkey = 200 WHERE l_orderkey = 11;
	DELETE FROM lineitem WHERE l_orderkey = 200 AND l_line < 1005;
	INSERT INTO lineitem VALUES (200, 2, 99);
	UPDATE orders SET o_status = 'tx2' WHERE o_orderkey = 200;
	INSERT INTO emp VALUES (600, 500, 'e600');
	UPDATE emp SET boss = 600 WHERE boss = 500;
	DELETE FROM emp WHERE id = 600;
	COMMIT});
change('transaction that rolls back a savepoint', q{
	BEGIN;
	INSERT INTO orders VALUES (300, 3, 'sp');
	SAVEPOINT a;
	INSERT INTO lineitem VALUES (300, 1, 50);
	ROLLBACK TO a;
	INSERT INTO lineitem VALUES (300, 2, 60);
	COMMIT});
change('truncate of one input', q{TRUNCATE lineitem});
change('inserts after the truncate', q{
	INSERT INTO lineitem SELECT o_orderkey, g, g FROM orders, generate_series(1, 3) g});
change('writes and a truncate in one transaction', q{
	BEGIN;
	INSERT INTO emp VALUES (700, 1, 'e700');
	UPDATE lineitem SET l_price = l_price + 5;
	TRUNCATE emp;
	INSERT INTO emp VALUES (1, NULL, 'root'), (2, 1, 'two'), (3, 1, 'three');
	DELETE FROM lineitem WHERE l_line = 2;
	COMMIT});
# Rows written before a TRUNCATE of the same input, in one transaction: maintained before the
# TRUNCATE's recompute (not after it, where their delta would be applied twice).
change('writes, truncate and refill of the written input in one transaction', q{
	BEGIN;
	UPDATE lineitem SET l_price = l_price + 7 WHERE l_line = 1;
	INSERT INTO emp VALUES (800, 801, 'e800'), (801, 1, 'e801');
	TRUNCATE lineitem, emp;
	INSERT INTO lineitem SELECT o_orderkey, 1, 10 FROM orders;
	INSERT INTO emp VALUES (1, NULL, 'root'), (2, 1, 'two');
	COMMIT});
change('truncate of every input', q{TRUNCATE orders, lineitem, emp});
change('refill', q{
	INSERT INTO orders SELECT g, g % 7, 'r' FROM generate_series(1, 30) g;
	INSERT INTO lineitem SELECT g % 30 + 1, g, g FROM generate_series(1, 90) g;
	INSERT INTO emp SELECT g, CASE WHEN g > 1 THEN g / 2 END, 'r' || g FROM generate_series(1, 20) g});
isnt($sub->safe_psql('postgres', 'SELECT count(*) FROM v_self'), '0', 'v_self has rows');

# A table added to the publication later: its initial copy (a table sync worker's COPY, which
# fires statement triggers) fills an input of a view created before, counted once.
$pub->safe_psql('postgres', q{
	CREATE TABLE dept (d_id int PRIMARY KEY, d_name text);
	INSERT INTO dept SELECT g, 'd' || g FROM generate_series(0, 6) g;
	ALTER PUBLICATION p ADD TABLE dept});
$sub->safe_psql('postgres', q{
	CREATE TABLE dept (d_id int PRIMARY KEY, d_name text);
	ALTER TABLE dept OWNER TO view_owner;
	SET SESSION AUTHORIZATION view_owner;
	SELECT parallel_material.create_view('v_dept', $$
	  SELECT o.o_orderkey, d.d_name FROM orders o JOIN dept d ON d.d_id = o.o_custkey $$)});
$sub->safe_psql('postgres', 'ALTER SUBSCRIPTION s REFRESH PUBLICATION');
$sub->wait_for_subscription_sync($pub, 's');
change('table sync of a new input', q{UPDATE dept SET d_name = d_name || '!' WHERE d_id < 3});
is($sub->safe_psql('postgres', q{SET SESSION AUTHORIZATION view_owner;
	SELECT count(*) FROM parallel_material.view_check('v_dept')}), '0', 'v_dept exact after the sync');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM v_dept'),
	$pub->safe_psql('postgres', 'SELECT count(*) FROM orders o JOIN dept d ON d.d_id = o.o_custkey'),
	'v_dept has the joined rows');

# A local write on the subscriber (an ordinary session, statement triggers) still maintains the
# views, and is not counted twice by the row triggers.
$sub->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION view_owner;
	INSERT INTO lineitem VALUES (1, 5000, 5000);
	UPDATE emp SET boss = 1 WHERE id = 4});
exact('local write on the subscriber');
# A session under session_replication_role = replica (the row triggers fire there too) neither.
$sub->safe_psql('postgres', q{
	SET session_replication_role = replica;
	INSERT INTO lineitem VALUES (1, 5001, 5001);
	DELETE FROM emp WHERE id = 4});
exact('local write under session_replication_role = replica');
is($sub->safe_psql('postgres', q{SET SESSION AUTHORIZATION reader;
	SELECT count(*) > 0 FROM v_join WHERE l_line = 5001}), 't', 'reader sees the maintained row');

$sub->stop;
$pub->stop;
done_testing();
