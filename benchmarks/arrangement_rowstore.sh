#!/usr/bin/env bash
# benchmarks/arrangement_rowstore.sh — row arrangements (issue 15, "two arrangements of one table
# share its row bytes"; docs/arrangements.md, "Row arrangements"): the bytes of two arrangements of
# orders (o_orderkey, o_custkey) each holding every column, against one row arrangement holding
# every column plus the two keyed by o_orderkey and o_custkey holding their keys only; then
# repeated TPC-H Q3 through arrangements holding Q3's columns ("full"), through key-only ones
# reading the other columns from the heap by TID ("heap") and from row arrangements of orders and
# lineitem ("rows"), timed in the server (EXPLAIN ANALYZE's execution time, the fastest of --reps).
# Against a cluster with this repository's TPC-H-shaped data in database $BENCH_DB (default bench):
#     PGHOST=... PGPORT=... benchmarks/arrangement_rowstore.sh [--reps N] [--load SF]
# --load SF first loads benchmarks/data/tpch.sql at scale SF into a new database $BENCH_DB, e.g.
#     tools/with-cluster benchmarks/arrangement_rowstore.sh --load 0.05
set -euo pipefail
reps=5
load=
while [ $# -gt 0 ]; do
    case $1 in
        --reps) reps=$2; shift 2 ;;
        --load) load=$2; shift 2 ;;
        *) echo "usage: $0 [--reps N] [--load SF]" >&2; exit 2 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
PSQL=${PM_BINDIR:+$PM_BINDIR/}psql
DB=${BENCH_DB:-bench}
q() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" -c "$1"; }
if [ -n "$load" ]; then
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$DB\""
    q "CREATE EXTENSION IF NOT EXISTS parallel_material"
    sf=$load
    python3 - "$HERE/data/tpch.sql" "$sf" >"/tmp/arrangement_rowstore.$$.sql" <<'PY'
import sys
sf = float(sys.argv[2])
vals = {"sf": sf, "seed": 1, "n_customer": max(1, int(150000 * sf)), "n_orders": max(1, int(1500000 * sf)),
        "n_part": max(1, int(200000 * sf)), "n_supplier": max(4, int(10000 * sf))}
text = open(sys.argv[1]).read()
for k, v in vals.items():
    text = text.replace("{" + k + "}", str(v))
print("SET client_min_messages = warning;\n" + text)
PY
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "/tmp/arrangement_rowstore.$$.sql" >/dev/null
    rm -f "/tmp/arrangement_rowstore.$$.sql"
    q "VACUUM (ANALYZE)"
fi
drop_all() {
    q "SELECT parallel_material.drop_arrangement(relation, key) FROM parallel_material.arrangements
        WHERE relation IN ('orders'::regclass, 'lineitem'::regclass)" >/dev/null
}
sum_bytes() {
    q "SELECT sum(bytes) FROM parallel_material.arrangements WHERE relation = '$1'::regclass"
}
rows=$(q "SELECT count(*) FROM orders")
heap=$(q "SELECT pg_relation_size('orders')")
drop_all
q "SELECT parallel_material.create_arrangement('orders', '{o_orderkey}')" >/dev/null
q "SELECT parallel_material.create_arrangement('orders', '{o_custkey}')" >/dev/null
full=$(sum_bytes orders)
drop_all
q "SELECT parallel_material.create_row_arrangement('orders')" >/dev/null
q "SELECT parallel_material.create_arrangement('orders', '{o_orderkey}', '{}')" >/dev/null
q "SELECT parallel_material.create_arrangement('orders', '{o_custkey}', '{}')" >/dev/null
shared=$(sum_bytes orders)
rowonly=$(q "SELECT bytes FROM parallel_material.arrangements WHERE relation = 'orders'::regclass AND key = '{}'")
drop_all
echo "orders: $rows rows, heap $heap bytes ($(q "SELECT round($heap::numeric / $rows, 1)") B/row)"
echo "METRIC orders two_full_arrangements_bytes $full"
echo "METRIC orders row_plus_two_keyonly_bytes $shared"
echo "METRIC orders row_arrangement_bytes $rowonly"
q "SELECT 'two arrangements, every column: ' || $full || ' bytes (' || round($full::numeric / $rows, 1)
        || ' B/row, ' || round($full::numeric / $heap, 3) || 'x heap); one row arrangement + two key-only: '
        || $shared || ' bytes (' || round($shared::numeric / $rows, 1) || ' B/row, '
        || round($shared::numeric / $heap, 3) || 'x heap; the row arrangement ' || $rowonly
        || '); ratio ' || round($shared::numeric / $full, 3)"

q3=$(grep -v '^--' "$HERE/scripts/q3.sql" | tr '\n' ' ' | sed 's/; *$//')
q3=${q3//\'/\'\'}  # inside a quoted literal below
# fastest execution time (ms) of Q3 over $reps runs, the plan's join nodes, under settings $1
q3_time() {
    "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" <<SQL
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
$1
CREATE FUNCTION pg_temp.t() RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE
    best float8 := 1e18;
    j json;
    plan text := '';
    line text;
BEGIN
    FOR i IN 1 .. $reps LOOP
        EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) $q3' INTO j;
        best := least(best, (j -> 0 ->> 'Execution Time')::float8);
    END LOOP;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) $q3' LOOP
        IF line ~ 'Join|ArrangementJoin|Nested Loop|Columns:' THEN
            plan := plan || CASE WHEN plan = '' THEN '' ELSE '; ' END || btrim(regexp_replace(line, '^ *(-> *)?', ''));
        END IF;
    END LOOP;
    RETURN round(best::numeric, 2) || ' ms | ' || plan;
END \$f\$;
SELECT pg_temp.t();
SQL
}
drop_all
echo "stock (no arrangement): $(q3_time "")"
q "SELECT parallel_material.create_arrangement('orders', '{o_custkey}', '{o_orderkey, o_orderdate, o_shippriority}')" >/dev/null
q "SELECT parallel_material.create_arrangement('lineitem', '{l_orderkey}', '{l_extendedprice, l_discount, l_shipdate}')" >/dev/null
echo "full (Q3's columns arranged): $(q3_time "")"
drop_all
q "SELECT parallel_material.create_arrangement('orders', '{o_custkey}', '{}')" >/dev/null
q "SELECT parallel_material.create_arrangement('lineitem', '{l_orderkey}', '{}')" >/dev/null
echo "heap (key-only, heap fetch; stock joins off): $(q3_time "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;")"
echo "heap (key-only, heap fetch; planner's choice): $(q3_time "")"
q "SELECT parallel_material.create_row_arrangement('orders')" >/dev/null
q "SELECT parallel_material.create_row_arrangement('lineitem')" >/dev/null
echo "rows (key-only + row arrangements; planner's choice): $(q3_time "")"
echo "rows (key-only + row arrangements; stock joins off): $(q3_time "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_nestloop = off;")"
drop_all
