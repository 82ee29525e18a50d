#!/usr/bin/env bash
# shared_spill_hit.sh — hit latency of a shared result whose log spills (ring capped by
# parallel_material.share_ring_max) against one that fits its ring, and against stock.
# Needs a running cluster with parallel_material preloaded and parallel_material.shared_memory
# >= 256MB (PGHOST/PGPORT/PGUSER/PGDATABASE in the environment; PSQL and PGBENCH may point to the
# binaries). ROWS (default 220000: about 50 MB of log), TX (hits per measurement, default 10),
# ROUNDS (default 5: the configurations run interleaved, one measurement each per round).
# Prints each measurement (pgbench's average latency; the CPU time, user + system, that the
# backend spent per query over TX queries in one session, read from /proc/PID/stat — less
# sensitive than wall time to other load on the machine; the same for the first run, which
# produces the entry; the entry's ring and spilled bytes),
# then per configuration the median and range over the rounds.
set -euo pipefail
PSQL=${PSQL:-psql}
PGBENCH=${PGBENCH:-pgbench}
ROWS=${ROWS:-220000}
TX=${TX:-10}
ROUNDS=${ROUNDS:-5}
PGOPTIONS='-c client_min_messages=warning' $PSQL -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS parallel_material;
DROP TABLE IF EXISTS spb_o, spb_big;
CREATE TABLE spb_o (id int, pad text);
INSERT INTO spb_o VALUES (1, '');
CREATE TABLE spb_big (id int, pad text);
INSERT INTO spb_big SELECT g, repeat('x', 200) || g FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE spb_o, spb_big;
SQL
# One ALL SubPlan over a Materialize of every row of spb_big, read once: the hit streams the
# whole shared log (spilled prefix from the file, tail from the ring) into the node.
QUERY='SELECT o.id FROM spb_o o WHERE o.pad < ALL (SELECT b.pad FROM spb_big b WHERE b.id > 0);'
FILE=$(mktemp)
echo "$QUERY" >"$FILE"
COMMON="-c max_parallel_workers_per_gather=0 -c work_mem=256MB"
SHARE="-c parallel_material.enable=on -c parallel_material.share_across_sessions=on"
# CPU time (user + system) the backend of one session spends per query over N runs of QUERY,
# in ms, from /proc/PID/stat (clock ticks).
cpu_per_query() {
    local opts=$1 n=$2 script
    script=$(mktemp)
    {
        echo 'SELECT pg_backend_pid() AS pid \gset'
        echo '\setenv PM_BENCH_PID :pid'
        echo "\\! awk '{print \$14 + \$15}' /proc/\$PM_BENCH_PID/stat"
        echo '\o /dev/null'
        for _ in $(seq 1 "$n"); do echo "$QUERY"; done
        echo '\o'
        echo "\\! awk '{print \$14 + \$15}' /proc/\$PM_BENCH_PID/stat"
    } >"$script"
    PGOPTIONS="$COMMON $opts" $PSQL -qXAt -f "$script" |
        awk -v n="$n" -v hz="$(getconf CLK_TCK)" 'NR == 1 {a = $1} NR == 2 {printf "%.1f", ($1 - a) * 1000 / hz / n}'
    rm -f "$script"
}
run() {
    local label=$1 opts=$2
    $PSQL -qXAt -c 'SELECT parallel_material.reset_shared_results()' >/dev/null
    local produce
    produce=$(cpu_per_query "$opts" 1)   # produces the entry (stock: one more stock run)
    local lat
    lat=$(PGOPTIONS="$COMMON $opts" $PGBENCH -n -t "$TX" -f "$FILE" 2>&1 | sed -n 's/^latency average = //p')
    # The same queries in one session, timed by the backend's own CPU time.
    local cpu
    cpu=$(cpu_per_query "$opts" "$TX")
    local entry
    entry=$($PSQL -qXAt -c "SELECT coalesce(string_agg(format('ring %s MB, spilled %s MB, hits %s, rows %s',
        round(bytes / 1048576.0, 1), round(spilled_bytes / 1048576.0, 1), hits, rows), '; '), 'no entry')
        FROM parallel_material.shared_results")
    printf '%-26s| latency average %s | backend cpu %s ms/query | first run cpu %s ms  (%s)\n' \
        "$label" "$lat" "$cpu" "$produce" "$entry" | tee -a "$OUTLOG"
}
OUTLOG=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    run "stock" "-c parallel_material.enable=off"
    run "hit, ring fits (64MB)" "$SHARE -c parallel_material.share_ring_max=128MB"
    run "hit, spills (ring 4MB)" "$SHARE -c parallel_material.share_ring_max=4MB"
    run "hit, spills (ring 1MB)" "$SHARE -c parallel_material.share_ring_max=1MB"
done
echo "median (min - max) of $ROUNDS rounds, ms per query: latency | backend cpu | first run (produce) cpu"
for label in "stock" "hit, ring fits (64MB)" "hit, spills (ring 4MB)" "hit, spills (ring 1MB)"; do
    summary() {
        sort -n | awk '{v[NR]=$1} END {printf "%8.1f (%.1f - %.1f)", v[int((NR+1)/2)], v[1], v[NR]}'
    }
    lat=$(grep -F "$label " "$OUTLOG" | sed -E 's/.*latency average ([0-9.]+) ms.*/\1/' | summary)
    cpu=$(grep -F "$label " "$OUTLOG" | sed -E 's/.*backend cpu ([0-9.]+) ms.*/\1/' | summary)
    first=$(grep -F "$label " "$OUTLOG" | sed -E 's/.*first run cpu ([0-9.]+) ms.*/\1/' | summary)
    printf '%-26s %s | %s | %s\n' "$label" "$lat" "$cpu" "$first"
done
rm -f "$FILE" "$OUTLOG"
