#!/usr/bin/env bash
# benchmarks/share_hit_cpu.sh — what a shared hit costs, measured on a running cluster (issue 15):
# CPU of the serving backends per hit, and hits/s, over a window in the middle of a pgbench run
# whose every query is a hit of one entry (the entry is produced first, outside the window).
# CPU is read from /proc/PID/schedstat (nanoseconds on CPU) of each backend, so other tenants of
# the machine change the wall-clock figures but hardly the CPU per hit.
#
#   PGHOST=127.0.0.1 PGPORT=5432 PGDATABASE=bench benchmarks/share_hit_cpu.sh \
#       [--clients N] [--secs S] [--protocol prepared|simple] [--script FILE] [--cold] [--perf FILE]
#
# --script: a pgbench script (default benchmarks/scripts/q1.sql, TPC-H Q1). --cold: reset the
# registry and start the run without the entry (pgbench -l): prints how long the producing
# transaction took and the rate of the hits after it, beside the whole run's rate (what a
# benchmark phase without priming counts). --perf FILE: perf record -g of the backends over the
# window. Extra settings: PGOPTIONS (sharing is turned on here). Runs as any user that can read
# the backends' /proc entries (the postgres OS user or root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
clients=1 secs=5 protocol=prepared script=$here/scripts/q1.sql cold=0 perf_out=
while [ $# -gt 0 ]; do
    case $1 in
        --clients) clients=$2; shift 2 ;;
        --secs) secs=$2; shift 2 ;;
        --protocol) protocol=$2; shift 2 ;;
        --script) script=$2; shift 2 ;;
        --cold) cold=1; shift ;;
        --perf) perf_out=$2; shift 2 ;;
        *) echo "usage: $0 [--clients N] [--secs S] [--protocol prepared|simple] [--script FILE] [--cold] [--perf FILE]" >&2; exit 2 ;;
    esac
done
PGBENCH=${PGBENCH:-pgbench}
export PGOPTIONS="-c parallel_material.enable=on -c parallel_material.share_across_sessions=on ${PGOPTIONS:-}"
hits() { psql -XqAtc "SELECT coalesce(sum(hits), 0) FROM parallel_material.shared_results"; }
jobs_n=$(( clients < 4 ? clients : 4 ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$cold" = 1 ]; then
    psql -XqAtc "SELECT parallel_material.reset_shared_results()" >/dev/null
    "$PGBENCH" -n -M "$protocol" -c "$clients" -j "$jobs_n" -T "$secs" -l --log-prefix="$work/lg" \
        -f "$script" >/dev/null 2>&1
    # log lines: client txn latency_us script epoch_s epoch_us
    cat "$work"/lg* | awk -v c="$clients" '
        { e = $5 + $6 / 1e6; s = e - $3 / 1e6; if (t0 == "" || s < t0) t0 = s; if (e > t1) t1 = e;
          if ($3 > m) { m = $3; me = e } n++; ev[n] = e }
        END { k = 0; for (i = 1; i <= n; i++) if (ev[i] > me) k++;
              printf "clients %d, cold: whole run %.0f queries/s; producing query %.2f s; after it %.0f hits/s (%d in %.2f s)\n",
                     c, n / (t1 - t0), m / 1e6, k / (t1 - me), k, t1 - me }'
    exit 0
fi

# Produce the entry (one client, same settings and protocol), then measure a window of a run.
"$PGBENCH" -n -M "$protocol" -c 1 -t 1 -f "$script" >/dev/null
"$PGBENCH" -n -M "$protocol" -c "$clients" -j "$jobs_n" -T $((secs + 15)) -f "$script" \
    >"$work/pgbench.out" 2>&1 &
pgb=$!
sleep 3
pids=$(psql -XqAtc "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
                     WHERE application_name = 'pgbench' AND pid <> pg_backend_pid()")
sleep 0.5
live=
for p in $pids; do [ -e "/proc/$p" ] && live="$live $p"; done
cpu_ns() { local t=0 x p; for p in $live; do x=$(cut -d' ' -f1 "/proc/$p/schedstat" 2>/dev/null || echo 0); t=$((t + x)); done; echo $t; }
pgb_ns() { local t=0 x f; for f in /proc/$pgb/task/*/schedstat; do x=$(cut -d' ' -f1 "$f" 2>/dev/null || echo 0); t=$((t + x)); done; echo $t; }
h0=$(hits); c0=$(cpu_ns); g0=$(pgb_ns)
if [ -n "$perf_out" ]; then
    perf record -F 999 -g -p "$(echo $live | tr ' ' ,)" -o "$perf_out" -- sleep "$secs" >/dev/null 2>&1
else
    sleep "$secs"
fi
h1=$(hits); c1=$(cpu_ns); g1=$(pgb_ns)
kill "$pgb" 2>/dev/null || true
wait "$pgb" 2>/dev/null || true
n=$(echo $live | wc -w)
awk -v c="$clients" -v n="$n" -v p="$protocol" -v h=$((h1 - h0)) -v b=$((c1 - c0)) -v g=$((g1 - g0)) -v s="$secs" 'BEGIN {
    if (h <= 0) { print "no hits counted in the window"; exit 1 }
    printf "clients %d (%d backends measured), %s: %.0f hits/s; backend CPU %.1f us per hit; pgbench CPU %.1f us per hit\n",
           c, n, p, h / s, b / 1e3 / h, g / 1e3 / h }'
