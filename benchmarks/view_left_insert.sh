#!/usr/bin/env bash
# view_left_insert.sh — what a LEFT JOIN view costs a single-row INSERT (docs/views.md, "LEFT
# JOIN views"): pgbench, 1 client, single-row INSERTs into the preserved side (orders, a random
# key among 40,000, about half of them with lineitems) and into the nullable side (lineitem, a
# random order key), each into a table with the maintained view
#   SELECT o.o_orderkey, o.o_note, l.l_line, l.l_price FROM orders o LEFT JOIN lineitem l ON l.l_orderkey = o.o_orderkey
# and into an identical table without one, ROUNDS times interleaved, SECS seconds each; prints
# each run's tps and the view / no-view ratio of the totals. INDEX=1 adds a btree on
# lineitem(l_orderkey) (the preserved side's delta is a LEFT JOIN; since left-arr ArrangementJoin
# serves it from lineitem's arrangement, before that it scanned lineitem without the index). Usage:
#   tools/with-cluster benchmarks/view_left_insert.sh        (ROUNDS=3 SECS=5 INDEX=0)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
INDEX=${INDEX:-0}
P="$PM_BINDIR/psql -X -q -v ON_ERROR_STOP=1 -d postgres"
$P -c "CREATE EXTENSION IF NOT EXISTS parallel_material" \
   -c "DROP TABLE IF EXISTS vl_orders, vl_lineitem, vl_orders_plain, vl_lineitem_plain CASCADE" \
   -c "CREATE TABLE vl_orders AS SELECT g AS o_orderkey, 'note ' || g AS o_note FROM generate_series(1, 20000) g" \
   -c "CREATE TABLE vl_lineitem AS SELECT (g / 4) * 2 + 1 AS l_orderkey, g % 4 AS l_line, g % 1000 AS l_price FROM generate_series(0, 39999) g" \
   -c "CREATE TABLE vl_orders_plain AS SELECT * FROM vl_orders" \
   -c "CREATE TABLE vl_lineitem_plain AS SELECT * FROM vl_lineitem" \
   -c "$([ "$INDEX" = 1 ] && echo "CREATE INDEX ON vl_lineitem (l_orderkey); CREATE INDEX ON vl_lineitem_plain (l_orderkey)" || echo "SELECT 1")" \
   -c "ANALYZE vl_orders, vl_lineitem, vl_orders_plain, vl_lineitem_plain" \
   -c "SET client_min_messages = warning" \
   -c "SELECT parallel_material.create_view('vl_view', \$\$SELECT o.o_orderkey, o.o_note, l.l_line, l.l_price FROM vl_orders o LEFT JOIN vl_lineitem l ON l.l_orderkey = o.o_orderkey\$\$)"
declare -A total
for side in orders lineitem; do
    for variant in view plain; do
        t=vl_$side; [ $variant = plain ] && t=${t}_plain
        f=/tmp/view_left_insert.$side.$variant.sql
        if [ $side = orders ]; then
            printf '\\set k random(1, 40000)\nINSERT INTO %s VALUES (:k, '"'"'new'"'"');\n' "$t" >"$f"
        else
            printf '\\set k random(1, 40000)\nINSERT INTO %s VALUES (:k, 9, 1);\n' "$t" >"$f"
        fi
        chmod a+r "$f"
    done
    for round in $(seq 1 "$ROUNDS"); do
        for variant in view plain; do
            tps=$("$PM_BINDIR/pgbench" -n -c 1 -j 1 -T "$SECS" -f /tmp/view_left_insert.$side.$variant.sql postgres 2>/dev/null |
                sed -nE 's/^tps = ([0-9.]+).*/\1/p')
            echo "$side round $round $variant tps=$tps"
            total[$side-$variant]=$(awk -v a="${total[$side-$variant]:-0}" -v b="$tps" 'BEGIN { print a + b }')
        done
    done
    awk -v s="$side" -v v="${total[$side-view]}" -v p="${total[$side-plain]}" -v r="$ROUNDS" \
        'BEGIN { printf "INSERT into %s: view %.0f/s, no view %.0f/s: %.3fx\n", s, v / r, p / r, v / p }'
done
$P -c "SELECT count(*) AS view_check_rows FROM parallel_material.view_check('vl_view')" \
   -c "SELECT name, rows, round(maintenance_ms_per_statement::numeric, 3) AS ms_per_stmt FROM parallel_material.views" \
   -c "SELECT parallel_material.drop_view('vl_view')" \
   -c "DROP TABLE vl_orders, vl_lineitem, vl_orders_plain, vl_lineitem_plain"
rm -f /tmp/view_left_insert.*.sql
