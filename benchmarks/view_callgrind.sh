#!/usr/bin/env bash
# view_callgrind.sh — instructions executed (valgrind's callgrind: deterministic, unlike time on
# a shared machine) per single-row INSERT into lineitem, as view_insert's script does it, without
# a view (`noview`), with the TPC-H Q3 join view (`view`) and with the Q3 aggregate view
# (`aggview`), for the build installed under one PM_PG_ROOT (docs/views.md, "Benchmarks").
# The first call makes DATADIR: a stopped cluster with one database per variant, each with the
# TPC-H-shaped data of benchmarks/data/tpch.sql at SF 0.01 and its view. Each measurement copies
# DATADIR, runs the server in single-user mode (one process, no network; every statement its own
# transaction) under callgrind twice, with N1 and N2 INSERTs, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1): the start-up (the arrangements' rebuild at the first read) cancels
# out. With CG_KEEP=DIR each run's callgrind output is kept as DIR/<variant>-<N>.out
# (benchmarks/callgrind_diff.py DIR/view-N1.out DIR/view-N2.out N2-N1: instructions per INSERT by
# function, inclusive).
# The arrangements come back from a restart not ready (single-user mode included), and the
# planner plans only on ready ones: without a read that rebuilds them, the delta query would
# probe orders and customer by their primary keys (stock index scans), unlike view_insert, whose
# views are created in the running server. So each run of a variant with a view first rebuilds
# them (arrangement_check, in both runs: it cancels out), as view_insert has them;
# COLD=1 leaves them not ready (the figures before 2026-12-07 17:00 were taken so).
# CG_SETTINGS="name=value ..." passes settings to the server (-c), e.g.
# CG_SETTINGS=parallel_material.view_direct_probe=off for the SQL delta query (docs/views.md).
# Variants `viewkey` and `aggviewkey` are `view` and `aggview` over key-only arrangements
# (create_arrangement(..., include => '{}') before create_view): the planner may fetch the
# columns the view reads from the heap by TID (docs/arrangements.md, "Heap fetch by TID") or,
# as it does at this scale, probe orders and customer by their primary keys (stock index scans);
# `viewfetch` and `aggviewfetch` are the same without those two primary keys, so that the delta
# joins go through the key-only arrangements and heap fetches. A DATADIR made before these
# variants existed lacks their databases (make a new one).
# Usage (root): PM_PG_ROOT=... benchmarks/view_callgrind.sh DATADIR [variant...]
set -euo pipefail
DATA=$1; shift
VARIANTS=${*:-noview view aggview}
N1=${N1:-50} N2=${N2:-250}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tools/lib.sh"
pm_check_pg_config
BIN=$PM_BINDIR
W=$(mktemp -d /tmp/view_callgrind.XXXXXX)
chown postgres "$W"
trap 'rm -rf "$W"' EXIT
join_view="SELECT l.l_orderkey, l.l_linenumber, o.o_orderdate, o.o_shippriority, l.l_extendedprice * (1 - l.l_discount) AS revenue FROM customer c JOIN orders o ON c.c_custkey = o.o_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < date '1995-03-15' AND l.l_shipdate > date '1995-03-15'"
agg_view="SELECT l.l_orderkey, o.o_orderdate, o.o_shippriority, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue FROM customer c JOIN orders o ON c.c_custkey = o.o_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < date '1995-03-15' AND l.l_shipdate > date '1995-03-15' GROUP BY l.l_orderkey, o.o_orderdate, o.o_shippriority"
SF=0.01 N_ORDERS=15000 N_PART=2000 N_SUPP=100

if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$(dirname "$DATA")"
    pm_as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$W/initdb.log"
    pm_pick_port
    {
        echo "listen_addresses = '127.0.0.1'"; echo "port = $PM_PICKED_PORT"
        echo "unix_socket_directories = ''"; echo "shared_preload_libraries = 'parallel_material'"
        echo "fsync = off"; echo "shared_buffers = 128MB"
        echo "parallel_material.arrangement_memory = 256MB"
        echo "parallel_material.arrangement_memory_per_role = 0"
        echo "parallel_material.enable_arrangement_join = on"
    } | pm_as_pg tee "$DATA/postgresql.auto.conf" >/dev/null
    pm_as_pg "$BIN/pg_ctl" -D "$DATA" -l "$W/server.log" -w start >/dev/null
    psql=(pm_as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PM_PICKED_PORT" -U postgres)
    "${psql[@]}" -d postgres -c "CREATE DATABASE noview"
    sed -e "s/{sf}/$SF/g; s/{seed}/1/g; s/{n_customer}/1500/g; s/{n_orders}/$N_ORDERS/g" \
        -e "s/{n_part}/$N_PART/g; s/{n_supplier}/$N_SUPP/g" "$HERE/data/tpch.sql" >"$W/tpch.sql"
    chmod a+r "$W/tpch.sql"
    "${psql[@]}" -d noview -c "SET client_min_messages = warning" -f "$W/tpch.sql" >/dev/null
    "${psql[@]}" -d postgres -c "CREATE DATABASE view TEMPLATE noview" -c "CREATE DATABASE aggview TEMPLATE noview" \
        -c "CREATE DATABASE viewkey TEMPLATE noview" -c "CREATE DATABASE aggviewkey TEMPLATE noview" \
        -c "CREATE DATABASE viewfetch TEMPLATE noview" -c "CREATE DATABASE aggviewfetch TEMPLATE noview"
    for db in noview view aggview viewkey aggviewkey viewfetch aggviewfetch; do "${psql[@]}" -d $db -c "CREATE EXTENSION parallel_material"; done
    for db in viewfetch aggviewfetch; do
        "${psql[@]}" -d $db -c "ALTER TABLE orders DROP CONSTRAINT orders_pkey" -c "ALTER TABLE customer DROP CONSTRAINT customer_pkey"
    done
    for db in viewkey aggviewkey viewfetch aggviewfetch; do
        for a in "customer c_custkey" "orders o_custkey" "orders o_orderkey" "lineitem l_orderkey"; do
            set -- $a
            "${psql[@]}" -d $db -c "SELECT parallel_material.create_arrangement('$1', '{$2}', '{}')" >/dev/null
        done
    done
    "${psql[@]}" -d view -c "SELECT parallel_material.create_view('q3_lines', \$\$ $join_view \$\$)" >/dev/null
    "${psql[@]}" -d aggview -c "SELECT parallel_material.create_view('q3_rev', \$\$ $agg_view \$\$)" >/dev/null
    for db in viewkey viewfetch; do
        "${psql[@]}" -d $db -c "SELECT parallel_material.create_view('q3_lines', \$\$ $join_view \$\$)" >/dev/null
    done
    for db in aggviewkey aggviewfetch; do
        "${psql[@]}" -d $db -c "SELECT parallel_material.create_view('q3_rev', \$\$ $agg_view \$\$)" >/dev/null
    done
    for db in noview view aggview viewkey aggviewkey viewfetch aggviewfetch; do "${psql[@]}" -d $db -c "VACUUM ANALYZE" -c CHECKPOINT; done
    pm_as_pg "$BIN/pg_ctl" -D "$DATA" stop -w >/dev/null
fi

gen() {  # n: the INSERTs of benchmarks/scripts/view_insert_lineitem.sql, deterministic keys
    for i in $(seq 1 "$1"); do
        local q=$(( i % 50 + 1 ))
        echo "INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice, l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate, l_receiptdate, l_shipinstruct, l_shipmode, l_comment) VALUES ($(( (i * 7919) % N_ORDERS + 1 )), $(( (i * 104729) % N_PART + 1 )), $(( i % N_SUPP + 1 )), nextval('bench.new_orderkey'), $q, $q * 1000.0, 0.05, 0.02, 'N', 'O', date '1996-02-01', date '1996-02-15', date '1996-02-20', 'DELIVER IN PERSON', 'AIR', 'benchmark insert');"
        echo
    done
}
ir() {  # db n -> Ir of the whole single-user run
    rm -rf "$W/data"; cp -a "$DATA" "$W/data"
    runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" \
        "$BIN/postgres" --single $(for s in ${CG_SETTINGS:-}; do printf -- '-c %s ' "$s"; done) -D "$W/data" -j "$1" <"$W/i$2.sql" >"$W/log" 2>&1 ||
        { tail -20 "$W/log" >&2; exit 1; }
    if grep -qE "ERROR|FATAL" "$W/log"; then grep -E "ERROR|FATAL" "$W/log" | head -3 >&2; exit 1; fi
    if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP"; cp "$W/cg.out" "$CG_KEEP/$1-$2.out"; fi
    sed -n 's/^summary: //p' "$W/cg.out"
}
warm() {  # variant: the statements that rebuild its arrangements (none for noview or COLD=1)
    [ "$1" = noview ] || [ "${COLD:-0}" = 1 ] && return
    local a
    for a in "customer c_custkey" "orders o_custkey" "orders o_orderkey" "lineitem l_orderkey"; do
        set -- $a
        echo "SELECT count(*) FROM parallel_material.arrangement_check('$1', ARRAY['$2']);"
        echo
    done
}
gen "$N1" >"$W/g$N1.sql"; gen "$N2" >"$W/g$N2.sql"
for v in $VARIANTS; do
    for n in "$N1" "$N2"; do warm "$v" | cat - "$W/g$n.sql" >"$W/i$n.sql"; done
    chmod a+r "$W"/*.sql
    a=$(ir "$v" "$N1"); b=$(ir "$v" "$N2")
    echo "$v: instructions per single-row INSERT: $(( (b - a) / (N2 - N1) ))"
done
