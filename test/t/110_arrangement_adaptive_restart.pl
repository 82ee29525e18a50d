# 110_arrangement_adaptive_restart.pl — adaptive arrangements across a restart and a crash
# (docs/arrangements.md, "Learnt columns"). The columns a background worker added to an adaptive
# definition are in the definition (arrangement_defs), so the lazy rebuild after a restart
# includes them; a crash (kill -9 of the widening worker, paused inside its rebuild) leaves a
# consistent definition: the same id, its columns those of the last committed widening, and the
# arrangement rebuilt from it exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('arr_adaptive');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'parallel_material'
parallel_material.arrangement_memory = '32MB'
restart_after_crash = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION parallel_material;
	CREATE TABLE o (o_id int, c int);
	CREATE TABLE l (ok int, line int, qty int, price numeric, note text);
	INSERT INTO o SELECT g, g % 10 FROM generate_series(1, 2000) g;
	INSERT INTO l SELECT 1 + g % 2000, g, g % 50, g * 1.25, 'n' || g FROM generate_series(1, 8000) g;
	ANALYZE o, l;
	SELECT parallel_material.create_arrangement('l', '{ok}');
	-- plans q (which learns) and says whether the arrangement holds cols and is ready
	CREATE FUNCTION widened(q text, cols text[]) RETURNS bool LANGUAGE plpgsql AS $$
	BEGIN
	  EXECUTE 'EXPLAIN ' || q;
	  RETURN (SELECT columns = cols AND state = 'ready' FROM parallel_material.arrangements);
	END $$;
});
my $defid = $node->safe_psql('postgres', q{SELECT defid FROM parallel_material.arrangement_defs});
is($node->safe_psql('postgres', q{SELECT columns FROM parallel_material.arrangements}),
	'{ok}', 'adaptive: the key only at creation');

my $q_qty = q{SELECT o.o_id, l.qty FROM o JOIN l ON l.ok = o.o_id WHERE o.o_id < 30};
my $q_price = q{SELECT o.o_id, l.qty, l.price FROM o JOIN l ON l.ok = o.o_id WHERE o.o_id < 30};
my $same = sub {
	my ($q) = @_;
	my $stock = $node->safe_psql('postgres',
		"SET parallel_material.enable_arrangement_join = off; SELECT string_agg(x::text, '|' ORDER BY x::text) FROM ($q) x");
	my $arr = $node->safe_psql('postgres',
		"SELECT string_agg(x::text, '|' ORDER BY x::text) FROM ($q) x");
	return $stock eq $arr && $stock ne '';
};

# a join reading qty: learnt, widened by the worker
ok($node->poll_query_until('postgres', "SELECT widened(\$q\$$q_qty\$q\$, '{ok,qty}')"),
	'widened with qty by the worker');
ok($same->($q_qty), 'join equal to stock after the widening');

# restart: the arrangement is rebuilt lazily from the definition, qty included
$node->restart;
is($node->safe_psql('postgres', q{SELECT columns || state FROM parallel_material.arrangements}),
	'{ok,qty,invalid}', 'after a restart: the widened definition, not built');
# the planner skips an arrangement that is not ready: the owner's first read rebuilds it
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.arrangement_check('l')}),
	'0', 'rebuilt exact after the restart');
is($node->safe_psql('postgres', q{SELECT state FROM parallel_material.arrangements}), 'ready',
	'rebuilt by its first read');
ok($same->($q_qty), 'join equal to stock after the restart');
unlike($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) $q_qty"), qr/Heap Columns/,
	'the rebuilt arrangement holds qty (no heap fetch)');

# a crash inside an automatic widening: the worker's rebuild is paused (debug_build_pause) and
# killed with SIGKILL; the postmaster reinitializes
$node->safe_psql('postgres', q{ALTER SYSTEM SET parallel_material.debug_build_pause = 4343; SELECT pg_reload_conf()});
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(4343)');
$node->safe_psql('postgres', "EXPLAIN $q_price");
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM parallel_material.arrangement_build_progress WHERE phase = 'scanning table'}),
	'the worker rebuilds the widened arrangement');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM parallel_material.arrangement_build_progress LIMIT 1});
is($node->safe_psql('postgres', q{SELECT columns FROM parallel_material.arrangements}),
	'{ok,qty,price}', 'the widening committed before its rebuild');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
eval { $holder->quit; };
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server is back after the kill');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET parallel_material.debug_build_pause; SELECT pg_reload_conf()});

is($node->safe_psql('postgres', q{SELECT defid FROM parallel_material.arrangement_defs}), $defid,
	'same definition id after the crash');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.arrangement_defs}), '1',
	'one definition');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.arrangement_check('l')}),
	'0', 'rebuilt exact after the crash');
unlike($node->safe_psql('postgres', "EXPLAIN (COSTS OFF) $q_price"), qr/Heap Columns/,
	'the rebuilt arrangement holds price');
ok($same->($q_price), 'join equal to stock after the crash');
$node->safe_psql('postgres', q{INSERT INTO l VALUES (3, 0, 1, 2, 'new'); UPDATE l SET qty = qty + 1 WHERE ok = 4});
ok($same->($q_price), 'maintained after the crash');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parallel_material.arrangement_check('l')}),
	'0', 'exact after the crash');
is($node->safe_psql('postgres', q{SELECT columns FROM parallel_material.arrangements}),
	'{ok,qty,price}', 'the definition keeps the committed widening');

$node->stop;
done_testing();
