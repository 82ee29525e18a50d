#!/usr/bin/env bash
# arrangement_callgrind.sh — instructions executed (valgrind's callgrind: deterministic, unlike
# time on a shared machine) per single-row INSERT into a table with an arrangement on o_custkey
# (insert_cost's `arrangement` variant) and per repeated TPC-H Q3 through the arrangements of
# q3_repeated, for the build installed under one PM_PG_ROOT. Runs the server in single-user mode
# (one process, no network) under callgrind twice per workload, with N1 and N2 statements after
# the same setup (drop + create the arrangements: a build), and prints (Ir(N2) - Ir(N1)) /
# (N2 - N1): the setup cancels out. Q3 runs with max_parallel_workers_per_gather = 0 (the plan
# through arrangements is serial anyway). KEYONLY=1: Q3's arrangements hold their keys only
# (include => '{}'), the columns Q3 reads fetched from the heap by TID; stock's join methods are
# then off (by cost the planner takes stock's index nested loop or hash joins at SF 0.05).
# ROWS=1: key-only arrangements plus row arrangements of orders and lineitem holding every column
# (create_row_arrangement): the columns Q3 reads come from those by TID (stock's joins off too).
# Usage (root): benchmarks/arrangement_callgrind.sh PM_PG_ROOT DATADIR [what: insert|q3|both]
#   DATADIR: a stopped cluster with databases `ins` and `q3`, as
#   `benchmarks/arrangement_ab.py --a R --b R --rounds 0 --keep` leaves them (.build/ab_a/data;
#   stop it with pg_ctl first). The data directory is written to (rows inserted then deleted).
set -euo pipefail
ROOT=$1 DATA=$2 WHAT=${3:-both}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(ls -d "$ROOT"/usr/lib/postgresql/*/bin | head -1)
W=$(mktemp -d /tmp/arrangement_callgrind.XXXXXX)
chown postgres "$W"
trap 'rm -rf "$W"' EXIT
q3=$(grep -v '^--' "$HERE/scripts/q3.sql" | tr '\n' ' ')
gen_insert() {
    echo "SELECT parallel_material.drop_arrangement('orders'::regclass, '{o_custkey}');"; echo
    echo "SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', '{*}');"; echo
    for i in $(seq 1 "$1"); do
        echo "INSERT INTO orders (o_orderkey, o_custkey, o_orderstatus, o_totalprice, o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment) VALUES (nextval('bench.new_orderkey'), $(( (i * 7919) % 7500 + 1 )), 'O', $(( (i * 104729) % 50000000 + 100 )) / 100.0, date '1998-08-02', '3-MEDIUM', 'Clerk#000000001', 0, 'benchmark insert');"; echo
    done
    echo "DELETE FROM orders WHERE o_orderkey >= 1000000000;"; echo
}
gen_q3() {
    echo "SET parallel_material.enable_arrangement_join = on;"; echo
    echo "SET max_parallel_workers_per_gather = 0;"; echo
    echo "SELECT parallel_material.drop_arrangement(relation, key) FROM parallel_material.arrangements WHERE relation IN ('orders'::regclass, 'lineitem'::regclass);"; echo
    if [ "${ROWS:-0}" = 1 ]; then  # key-only, the other columns read from row arrangements
        echo "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;"; echo
        echo "SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', '{}');"; echo
        echo "SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', '{}');"; echo
        echo "SELECT parallel_material.create_row_arrangement('orders'::regclass);"; echo
        echo "SELECT parallel_material.create_row_arrangement('lineitem'::regclass);"; echo
    elif [ "${KEYONLY:-0}" = 1 ]; then  # the keys only: the other columns fetched from the heap by TID
        # (the planner prefers stock's plans to ~42k heap fetches per Q3 at this scale: off)
        echo "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;"; echo
        echo "SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', '{}');"; echo
        echo "SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', '{}');"; echo
    else
        echo "SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', '{o_orderkey, o_orderdate, o_shippriority}');"; echo
        echo "SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', '{l_extendedprice, l_discount, l_shipdate}');"; echo
    fi
    for _ in $(seq 1 "$1"); do echo "$q3"; echo; done
}
ir() {  # db file -> Ir of the whole single-user run
    runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" \
        "$BIN/postgres" --single -D "$DATA" -c shared_buffers=256MB \
        -c parallel_material.arrangement_memory=256MB -j "$1" <"$2" >"$W/log" 2>&1 ||
        { tail -20 "$W/log" >&2; exit 1; }
    if grep -qE "ERROR|FATAL" "$W/log"; then grep -E "ERROR|FATAL" "$W/log" | head -3 >&2; exit 1; fi
    sed -n 's/^summary: //p' "$W/cg.out"
}
if [ "$WHAT" != q3 ]; then
    gen_insert 200 >"$W/i1.sql"; gen_insert 1200 >"$W/i2.sql"; chmod a+r "$W"/*.sql
    a=$(ir ins "$W/i1.sql"); b=$(ir ins "$W/i2.sql")
    echo "instructions per arranged INSERT: $(( (b - a) / 1000 ))"
fi
if [ "$WHAT" != insert ]; then
    gen_q3 3 >"$W/q1.sql"; gen_q3 13 >"$W/q2.sql"; chmod a+r "$W"/*.sql
    a=$(ir q3 "$W/q1.sql"); b=$(ir q3 "$W/q2.sql")
    echo "instructions per Q3 through arrangements: $(( (b - a) / 10 ))"
fi
