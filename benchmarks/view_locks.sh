#!/usr/bin/env bash
# view_locks.sh — what the per-key locks of maintained views cost a writer (docs/views.md,
# "Concurrency"): pgbench single-row INSERTs into lineitem (random order key among 20,000
# orders) with a maintained view orders x lineitem, parallel_material.debug_view_locks on vs
# off, at 1 and 4 clients, ROUNDS times interleaved, SECS seconds each; prints each run's tps
# and the on/off ratio of the totals per client count, with the spread (min and max of the
# per-round ratios). Usage: tools/with-cluster benchmarks/view_locks.sh   (ROUNDS=5 SECS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-10}
P="$PM_BINDIR/psql -X -q -v ON_ERROR_STOP=1 -d postgres"
$P -c "CREATE EXTENSION IF NOT EXISTS parallel_material" \
   -c "DROP TABLE IF EXISTS vb_lineitem, vb_orders CASCADE" \
   -c "CREATE TABLE vb_orders AS SELECT g AS o_orderkey, g % 1000 AS o_custkey, date '1995-01-01' + g % 700 AS o_orderdate FROM generate_series(1, 20000) g" \
   -c "CREATE TABLE vb_lineitem AS SELECT (g / 4) + 1 AS l_orderkey, g % 7 AS l_linenumber, (g % 1000)::numeric AS l_extendedprice FROM generate_series(0, 79999) g" \
   -c "ANALYZE vb_orders, vb_lineitem" \
   -c "SET client_min_messages = warning" \
   -c "SELECT parallel_material.create_view('vb_view', \$\$SELECT l.l_orderkey, l.l_linenumber, o.o_orderdate, l.l_extendedprice FROM vb_orders o JOIN vb_lineitem l ON l.l_orderkey = o.o_orderkey\$\$)"
script=$(mktemp /tmp/view_locks.XXXXXX.sql)
chmod a+r "$script"
cat >"$script" <<'SQL'
\set k random(1, 20000)
INSERT INTO vb_lineitem VALUES (:k, 9, 1.5);
SQL
declare -A total
for c in 1 4; do
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
        declare -A t=()
        for locks in on off; do
            t[$locks]=$(PGOPTIONS="-c parallel_material.debug_view_locks=$locks" \
                "$PM_BINDIR/pgbench" -n -c "$c" -j "$c" -T "$SECS" -f "$script" postgres 2>/dev/null |
                sed -nE 's/^tps = ([0-9.]+).*/\1/p')
            echo "clients $c round $round locks=$locks tps=${t[$locks]}"
            total[$c-$locks]=$(awk -v a="${total[$c-$locks]:-0}" -v b="${t[$locks]}" 'BEGIN { print a + b }')
        done
        ratios+=("$(awk -v a="${t[on]}" -v b="${t[off]}" 'BEGIN { printf "%.3f", a / b }')")
    done
    awk -v c="$c" -v on="${total[$c-on]}" -v off="${total[$c-off]}" -v rs="${ratios[*]}" \
        'BEGIN { n = split(rs, r, " "); lo = r[1]; hi = r[1]; for (i = 2; i <= n; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
                 printf "clients %s: locks on / off = %.3f (per-round %s .. %s)\n", c, on / off, lo, hi }'
done
$P -c "SELECT count(*) AS view_check_rows FROM parallel_material.view_check('vb_view')" -c "SELECT parallel_material.drop_view('vb_view')" \
   -c "DROP TABLE vb_lineitem, vb_orders"
rm -f "$script"
