#!/usr/bin/env bash
# share_cheap_cost.sh — what cross-session sharing costs a cheap query it does not share (issue 12's
# "within 2% of sharing off"): pgbench runs the share_overhead scenario's two cheap shapes
# (benchmarks/scripts/share_cheap_distinct.sql: below share_min_cost; share_cheap_volatile.sql:
# refused by the verdict, now()) with parallel_material.enable on and share_across_sessions off,
# then on, ROUNDS times alternated, SECS seconds each at 2 clients, over a 300,000-row lineitem
# with an index on l_orderkey; prints each run's tps and the on/off ratio of the totals.
# Usage: tools/with-cluster benchmarks/share_cheap_cost.sh      (ROUNDS=6 SECS=12 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-6}
SECS=${SECS:-12}
P="$PM_BINDIR/psql -X -q -v ON_ERROR_STOP=1 -d postgres"
$P -c "CREATE EXTENSION IF NOT EXISTS parallel_material" \
   -c "DROP TABLE IF EXISTS lineitem" \
   -c "CREATE TABLE lineitem AS SELECT (g / 4) + 1 AS l_orderkey, (g % 1000)::numeric AS l_extendedprice, 0.05::numeric AS l_discount FROM generate_series(0, 299999) g" \
   -c "CREATE INDEX ON lineitem (l_orderkey)" -c "ANALYZE lineitem"
declare -A total
for round in $(seq 1 "$ROUNDS"); do
    for shape in distinct volatile; do
        for share in off on; do
            tps=$(PGOPTIONS="-c parallel_material.enable=on -c parallel_material.share_across_sessions=$share" \
                "$PM_BINDIR/pgbench" -n -c 2 -j 2 -T "$SECS" -D n_orders=75000 \
                -f "benchmarks/scripts/share_cheap_$shape.sql" postgres 2>/dev/null |
                sed -nE 's/^tps = ([0-9.]+).*/\1/p')
            echo "round $round $shape share=$share tps=$tps"
            total[$shape-$share]=$(awk -v a="${total[$shape-$share]:-0}" -v b="$tps" 'BEGIN { print a + b }')
        done
    done
done
for shape in distinct volatile; do
    awk -v s="$shape" -v on="${total[$shape-on]}" -v off="${total[$shape-off]}" \
        'BEGIN { printf "%s: sharing on / off = %.4f\n", s, on / off }'
done
