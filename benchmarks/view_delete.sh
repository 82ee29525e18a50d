#!/usr/bin/env bash
# view_delete.sh — what a single-row DELETE of lineitem costs with a maintained view, with the
# view table's key index (made by create_view) and without it (the apply DELETE then scans the
# view table: the behaviour before the key index). TPC-H-shaped data at SF (default 0.05, the
# benchmarks' quick scale), view Q3 (VIEW=q3, default) or orders x lineitem (VIEW=lo, a view as
# large as lineitem); after a warm-up set, three disjoint sets of up to 300 view rows deleted one
# statement each: with the index, without it, with it again; prints ms per DELETE and checks the view is exact.
# Usage: tools/with-cluster benchmarks/view_delete.sh   (SF=0.05 VIEW=q3|lo)
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${SF:-0.05}
VIEW=${VIEW:-q3}
tmp=$(mktemp -d /tmp/view_delete.XXXXXX)
chmod a+rwx "$tmp"
python3 - "$SF" "$tmp/tpch.sql" <<'PY'
import sys
sf = float(sys.argv[1])
text = open("benchmarks/data/tpch.sql").read()
vals = {"sf": sf, "seed": 1, "n_customer": max(1, int(150000 * sf)), "n_orders": max(1, int(1500000 * sf)),
        "n_part": max(1, int(200000 * sf)), "n_supplier": max(4, int(10000 * sf))}
for k, v in vals.items():
    text = text.replace("{" + k + "}", str(v))
open(sys.argv[2], "w").write("SET client_min_messages = warning;\n" + text)
PY
"$PM_BINDIR/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS view_delete" -c "CREATE DATABASE view_delete"
P="$PM_BINDIR/psql -X -q -v ON_ERROR_STOP=1 -d view_delete"
$P -c "CREATE EXTENSION parallel_material"
$P -f "$tmp/tpch.sql"
if [ "$VIEW" = lo ]; then
    DEF="SELECT l.l_orderkey, l.l_linenumber, o.o_orderdate, l.l_extendedprice FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey"
else
    DEF="SELECT l.l_orderkey, l.l_linenumber, o.o_orderdate, o.o_shippriority, l.l_extendedprice * (1 - l.l_discount) AS revenue FROM customer c JOIN orders o ON c.c_custkey = o.o_custkey JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < date '1995-03-15' AND l.l_shipdate > date '1995-03-15'"
fi
$P -c "ANALYZE" -c "SET client_min_messages = warning" \
   -c "SELECT parallel_material.create_view('vd_view', \$\$ $DEF \$\$)" -c "ANALYZE vd_view"
ix=$($P -At -c "SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'vd_view'::regclass")
$P -At -F ' ' -c "SELECT 'lineitem rows', count(*) FROM lineitem" \
   -c "SELECT 'view rows', count(*), pg_size_pretty(pg_relation_size('vd_view')) FROM vd_view" \
   -c "SELECT 'key index', indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'vd_view'::regclass"
for set in 0 1 2 3; do
    $P -At -c "SELECT format('DELETE FROM lineitem WHERE l_orderkey = %s AND l_linenumber = %s;', l_orderkey, l_linenumber)
               FROM (SELECT *, row_number() OVER (ORDER BY l_orderkey, l_linenumber) AS rn FROM vd_view) s
              WHERE rn % 4 = $set LIMIT 300" >"$tmp/del_$set.sql"
done
timeit() {
    local n t0 t1
    n=$(wc -l <"$1")
    t0=$(date +%s.%N); $P -f "$1"; t1=$(date +%s.%N)
    echo "$2: $(echo "($t1 - $t0) * 1000 / $n" | bc -l | cut -c1-6) ms per DELETE ($n statements)"
}
timeit "$tmp/del_3.sql" "(warm-up) $VIEW view, key index" >/dev/null
timeit "$tmp/del_0.sql" "$VIEW view, key index"
$P -c "DROP INDEX $ix"
timeit "$tmp/del_1.sql" "$VIEW view, no index (scan)"
$P -c "CREATE INDEX ON vd_view (l_orderkey)"
timeit "$tmp/del_2.sql" "$VIEW view, key index again"
echo "view_check rows (0 = exact): $($P -At -c "SELECT count(*) FROM parallel_material.view_check('vd_view')")"
rm -rf "$tmp"
