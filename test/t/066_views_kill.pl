# 066_views_kill.pl — kill -9 of a backend in the middle of its view maintenance. The writer is
# paused inside its maintenance by a user trigger on the view table that waits for an advisory
# lock the test holds (once after the apply step deleted its rows and while it inserts, once while
# it deletes), then SIGKILLed: the postmaster terminates every backend and reinitializes, the
# writer's transaction (its input write and the half-applied maintenance) is rolled back by crash
# recovery, and afterwards every view is exact (view_check empty) and writes keep maintaining
# them — before and after the arrangements are rebuilt.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('views_kill');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE customer (c_custkey int PRIMARY KEY, c_name text);
	CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_custkey int, o_date date);
	CREATE TABLE lineitem (l_orderkey int, l_line int, l_price numeric);
	INSERT INTO customer SELECT g, 'c' || (g % 5) FROM generate_series(1, 100) g;
	INSERT INTO orders SELECT g, g % 100 + 1, date '2020-01-01' + g % 300 FROM generate_series(1, 1000) g;
	INSERT INTO lineitem SELECT g % 1000 + 1, g, g * 0.5 FROM generate_series(1, 4000) g;
	SET client_min_messages = warning;
	SELECT parallel_material.create_view('v3', $$
	  SELECT l.l_orderkey, c.c_name, o.o_date, l.l_price FROM customer c
	    JOIN orders o ON o.o_custkey = c.c_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey $$);
	-- duplicates: one row per order of each customer name
	SELECT parallel_material.create_view('vdup', $$
	  SELECT c.c_name FROM customer c JOIN orders o ON o.o_custkey = c.c_custkey $$);
	-- the pause: a row trigger on the view tables that waits for advisory lock 4242
	CREATE FUNCTION pause_maint() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	  IF current_setting('kill.pause', true) = 'on' THEN PERFORM pg_advisory_xact_lock(4242); END IF;
	  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END $$;
	CREATE TRIGGER pause_ins BEFORE INSERT ON v3 FOR EACH ROW EXECUTE FUNCTION pause_maint();
	CREATE TRIGGER pause_del BEFORE DELETE ON vdup FOR EACH ROW EXECUTE FUNCTION pause_maint();
});

my $check = q{SELECT (SELECT count(*) FROM parallel_material.view_check('v3')) +
                     (SELECT count(*) FROM parallel_material.view_check('vdup'))};
is($node->safe_psql('postgres', $check), '0', 'exact after create_view');

# Pauses a writer inside its maintenance and SIGKILLs it; returns when the server accepts
# connections again.
sub kill_in_maintenance {
	my ($write, $what) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('SELECT pg_advisory_lock(4242)');
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $writer->query_safe('SELECT pg_backend_pid()');
	chomp $pid;
	$writer->query_until(qr/started/, "SET kill.pause = on;\n\\echo started\nBEGIN; $write; COMMIT;\n");
	ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $pid AND wait_event_type = 'Lock' AND wait_event = 'advisory'}),
		"$what: the writer waits inside its maintenance");
	my $log_offset = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	# poll_query_until's psql must not meet a server still in recovery: it exits before
	# reading its query, and IPC::Run's write then dies with EPIPE (066 exited 32 on 18).
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	ok($node->poll_query_until('postgres', 'SELECT true'), "$what: the server is back after the kill");
	eval { $writer->quit; };
	eval { $holder->quit; };
}

my $rows_v3 = $node->safe_psql('postgres', 'SELECT count(*) FROM v3');
my $rows_dup = $node->safe_psql('postgres', 'SELECT count(*) FROM vdup');

# 1: killed while inserting into v3 (its deletes already applied): UPDATE moves lineitems.
kill_in_maintenance('UPDATE lineitem SET l_orderkey = 7 WHERE l_orderkey = 8', 'insert phase');
is($node->safe_psql('postgres', $check), '0', 'insert phase: exact after the crash');
is($node->safe_psql('postgres', 'SELECT count(*) FROM v3'), $rows_v3, 'insert phase: the killed write left nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM lineitem WHERE l_orderkey = 8}), '4',
	'insert phase: the input write was rolled back');

# 2: killed while deleting duplicate copies from vdup.
kill_in_maintenance('DELETE FROM orders WHERE o_orderkey BETWEEN 10 AND 30', 'delete phase');
is($node->safe_psql('postgres', $check), '0', 'delete phase: exact after the crash');
is($node->safe_psql('postgres', 'SELECT count(*) FROM vdup'), $rows_dup, 'delete phase: the killed write left nothing');

# Writes keep maintaining both views, before the arrangements are rebuilt (stock delta plans)...
$node->safe_psql('postgres', q{
	INSERT INTO lineitem SELECT 11, 30000 + g, g FROM generate_series(1, 20) g;
	UPDATE lineitem SET l_orderkey = 12 WHERE l_orderkey = 13;
	DELETE FROM orders WHERE o_orderkey BETWEEN 40 AND 60;
	UPDATE customer SET c_name = 'renamed' WHERE c_custkey % 7 = 0;
	INSERT INTO orders SELECT g, g % 100 + 1, date '2021-01-01' FROM generate_series(2000, 2050) g;
});
is($node->safe_psql('postgres', $check), '0', 'writes after the crash keep the views exact');

# ... and after (the owner's reads rebuild them).
$node->safe_psql('postgres', q{
	SELECT count(*) FROM parallel_material.arrangements a,
	  LATERAL parallel_material.arrangement_check(a.relation, a.key) x;
});
$node->safe_psql('postgres', q{
	DELETE FROM lineitem WHERE l_orderkey = 7;
	UPDATE orders SET o_custkey = 3 WHERE o_orderkey BETWEEN 100 AND 120;
	DELETE FROM customer WHERE c_custkey = 4;
});
is($node->safe_psql('postgres', $check), '0', 'writes after the rebuild keep the views exact');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.views WHERE name::text IN ('v3', 'vdup')}),
	'2', 'both views listed');

$node->stop;
done_testing();
