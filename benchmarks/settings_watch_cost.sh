#!/usr/bin/env bash
# settings_watch_cost.sh — the per-row cost of the settings check of shared rows
# (docs/shared-results.md, "Changes during a run") on the hit path: TX hits of a streaming
# MATERIALIZED CTE site of ROWS rows in one session, measured as the CPU time (user + system) the
# backend spent, read from /proc/PID/stat (less sensitive than wall time to other load). Run it
# once per build to compare (a build without the check: the commit before the settings watch).
# Needs a running cluster with parallel_material preloaded (PGHOST/PGPORT/PGUSER/PGDATABASE in
# the environment; PSQL may point to psql). ROWS (default 300000: about 10 MB of log, within a
# 16 MB ring), TX (default 30), ROUNDS (default 3). Prints the CPU time per round and per row.
set -euo pipefail
PSQL=${PSQL:-psql}
ROWS=${ROWS:-300000}
TX=${TX:-30}
ROUNDS=${ROUNDS:-3}
PGOPTIONS='-c client_min_messages=warning' $PSQL -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS parallel_material;
DROP TABLE IF EXISTS swc_big, swc_small;
CREATE TABLE swc_big (a int, b int);
INSERT INTO swc_big SELECT i, i % 1000 FROM generate_series(1, $ROWS) i;
CREATE TABLE swc_small (b int);
INSERT INTO swc_small SELECT generate_series(0, 999);
ANALYZE swc_big, swc_small;
SQL
until [ "$($PSQL -AtX -c "SELECT parallel_material.data_version('swc_big') IS NOT NULL
                            AND parallel_material.data_version('swc_small') IS NOT NULL")" = t ]; do
    sleep 0.1
done
QUERY='WITH c AS MATERIALIZED (SELECT swc_big.a, swc_big.b FROM swc_big JOIN swc_small ON swc_small.b = swc_big.b) SELECT count(*) FROM c;'
SETS="SET parallel_material.enable = on; SET parallel_material.share_across_sessions = on;
SET parallel_material.share_whole_results = off; SET parallel_material.share_ring_max = '16MB';
SET max_parallel_workers_per_gather = 0;"
tick=$(getconf CLK_TCK)
for r in $(seq 1 "$ROUNDS"); do
    {
        echo "$SETS"
        echo "$QUERY"   # the first round produces, every other run hits
        echo "$QUERY"
        echo "SELECT 'cpu0 ' || (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15]::text;"
        for _ in $(seq 1 "$TX"); do echo "$QUERY"; done
        echo "SELECT 'cpu1 ' || (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15]::text;"
        echo "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $QUERY"
    } | $PSQL -AtX -v ON_ERROR_STOP=1 >/tmp/swc.$$ 2>&1
    grep -q 'Cross-Session Sharing: hit' /tmp/swc.$$ || { cat /tmp/swc.$$; echo "not a hit" >&2; exit 1; }
    read -r u0 s0 < <(grep '^cpu0' /tmp/swc.$$ | tr -d '{}' | awk -F'[ ,]' '{print $2, $3}')
    read -r u1 s1 < <(grep '^cpu1' /tmp/swc.$$ | tr -d '{}' | awk -F'[ ,]' '{print $2, $3}')
    ms=$(( (u1 + s1 - u0 - s0) * 1000 / tick ))
    echo "round $r: $TX hits of $ROWS rows: ${ms} ms CPU, $(( ms * 1000000 / (TX * ROWS) )) ns per row"
done
rm -f /tmp/swc.$$
