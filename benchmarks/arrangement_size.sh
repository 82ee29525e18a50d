#!/usr/bin/env bash
# benchmarks/arrangement_size.sh — size and build time of an arrangement of lineitem on l_orderkey
# (issue 15, "Compact arrangements"): bytes per row and total against the heap, build time against
# CREATE INDEX on the same key, for 4 columns (Q3's: l_orderkey, l_extendedprice, l_discount,
# l_shipdate), for all columns (include => '{*}') and for the key only (include =>
# '{}': joins read the other columns from the heap by TID); and the adaptive default (include =>
# NULL: the key only, widened in place by a background worker with the columns joins read): its
# bytes after Q3 ran once and the widening finished (no build time: two builds). Run by benchmarks/run as the
# external scenario arrangement_size (scenarios/arrangement_size.json) against its cluster and
# TPC-H-shaped data (database bench); runs as well by hand against any cluster holding them:
#     PGHOST=... PGPORT=... benchmarks/arrangement_size.sh [--reps N]
# Prints one METRIC line per figure (read back by the harness) and a table. Each build is run
# --reps times (default 2) and the fastest kept; sizes do not vary between repetitions.
set -euo pipefail
reps=2
[ "${1:-}" = --reps ] && reps=$2
PSQL=${PM_BINDIR:+$PM_BINDIR/}psql
DB=${BENCH_DB:-bench}
q() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" -c "$1"; }
# "wall cpu cpu_all": seconds a statement took, measured in the server (no connection cost), the
# CPU seconds (user + system) of its backend from /proc/self/stat (read with pg_read_file:
# superuser; -1 where that fails), and that plus the CPU of the server's processes that exited
# meanwhile (the postmaster's cutime + cstime: parallel workers, once reaped; an autovacuum
# worker exiting then would count too). CPU time is far less sensitive than wall time to other
# jobs on a shared machine; the serial builds below give the CPU figures compared, the parallel
# ones (PostgreSQL's default max_parallel_maintenance_workers) the wall times.
timed() {
    {
    "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" <<SQL
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.cpu() RETURNS numeric LANGUAGE sql AS \$\$
    SELECT (split_part(s, ' ', 12)::numeric + split_part(s, ' ', 13)::numeric) / 100
      FROM (SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) AS s) x  -- from field 3 \$\$;
CREATE FUNCTION pg_temp.cpu_children() RETURNS numeric LANGUAGE sql AS \$\$
    SELECT (split_part(s, ' ', 14)::numeric + split_part(s, ' ', 15)::numeric) / 100
      FROM (SELECT split_part(pg_read_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\\n', 1)
                                           || '/stat'), ') ', 2) AS s) x \$\$;
SELECT extract(epoch FROM clock_timestamp()) AS t0, coalesce(pg_temp.cpu(), -1) AS c0,
       coalesce(pg_temp.cpu_children(), -1) AS k0 \gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3) || ' ' || round(pg_temp.cpu() - :c0, 2)
       || ' ' || round(pg_temp.cpu() - :c0 + pg_temp.cpu_children() - :k0, 2);
SQL
    } | tail -1  # the statement's own output (a void result's empty line) comes first
}
min() { printf '%s\n' "$@" | sort -g | head -1; }

q "SELECT parallel_material.drop_arrangement('lineitem'::regclass, '{l_orderkey}')
   WHERE EXISTS (SELECT FROM parallel_material.arrangements WHERE relation = 'lineitem'::regclass)" >/dev/null
q "VACUUM (ANALYZE) lineitem"  # hint bits set and reltuples known, for both builds alike
rows=$(q "SELECT count(*) FROM lineitem")
heap=$(q "SELECT pg_relation_size('lineitem')")
# The bucket array: 4 bytes per bucket (a 32-bit link), the next power of two at or above twice the estimated
# distinct keys (the build's expected_keys(): pg_stats' n_distinct of l_orderkey, at most
# reltuples, at least reltuples / 16; twice that, at most reltuples, at least 1024). buckets_rows: what it was when sized by rows (reltuples).
buckets=$(q "SELECT 4 * 2 ^ ceil(log(2, greatest(1024, least(c.reltuples, 2 * greatest(c.reltuples / 16,
        least(c.reltuples, CASE WHEN s.n_distinct < 0 THEN -s.n_distinct * c.reltuples
                                ELSE coalesce(nullif(s.n_distinct, 0), c.reltuples) END))))::numeric))
    FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = 'public' AND s.tablename = 'lineitem' AND s.attname = 'l_orderkey'
    WHERE c.oid = 'lineitem'::regclass")
buckets=${buckets%.*}
buckets_rows=$(q "SELECT 4 * 2 ^ ceil(log(2, greatest(1024, reltuples)::numeric)) FROM pg_class WHERE oid = 'lineitem'::regclass")
buckets_rows=${buckets_rows%.*}
echo "METRIC buckets bytes $buckets"
echo "METRIC buckets bytes_if_sized_by_rows $buckets_rows"
t=(); c=(); ca=()
for _ in $(seq "$reps"); do
    read -r w _ all <<<"$(timed "CREATE INDEX lineitem_arrsize_bench ON lineitem (l_orderkey)")"
    t+=("$w"); ca+=("$all")
    q "DROP INDEX lineitem_arrsize_bench"
    # serial, for a CPU figure that holds all of its work
    read -r _ cpu _ <<<"$(timed "SET max_parallel_maintenance_workers = 0; CREATE INDEX lineitem_arrsize_bench ON lineitem (l_orderkey)")"
    c+=("$cpu")
    q "DROP INDEX lineitem_arrsize_bench"
done
t_index=$(min "${t[@]}")
c_index=$(min "${c[@]}")
echo "METRIC index build_s $t_index"
ca_index=$(min "${ca[@]}")
echo "METRIC index build_cpu_s_serial $c_index"
echo "METRIC index build_cpu_s_parallel $ca_index"
# the participants CREATE INDEX and a parallel build plan (the same rule, see "Parallel build" in
# docs/arrangements.md): max_parallel_maintenance_workers, capped so that each keeps 32 MB of
# maintenance_work_mem
echo "METRIC index max_parallel_maintenance_workers $(q "SHOW max_parallel_maintenance_workers")"
echo "METRIC index maintenance_work_mem_kb $(q "SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem'")"
printf '%-10s %10s %12s %8s %9s %7s %8s %8s %9s %8s %9s %9s\n' variant rows bytes B/row +buckets x_heap build_s x_index serial_s cpu_s x_idx_cpu par_cpu_s
for variant in keyonly cols4 all; do
    if [ $variant = keyonly ]; then
        include="'{}'"  # the key only: joins fetch the other columns from the heap by TID
    elif [ $variant = cols4 ]; then
        include="'{l_extendedprice,l_discount,l_shipdate}'"
    else
        include="'{*}'"  # every column (include => NULL is adaptive now)
    fi
    t=(); c=(); ts=(); ca=()
    drop="SELECT parallel_material.drop_arrangement('lineitem'::regclass, '{l_orderkey}')
           WHERE EXISTS (SELECT FROM parallel_material.arrangements WHERE relation = 'lineitem'::regclass)"
    for _ in $(seq "$reps"); do
        # the default settings' build (parallel when max_parallel_maintenance_workers allows),
        # then a serial one for the CPU figure
        q "$drop" >/dev/null
        read -r w _ all <<<"$(timed "SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', $include)")"
        t+=("$w"); ca+=("$all")
        q "$drop" >/dev/null
        read -r w cpu _ <<<"$(timed "SET max_parallel_maintenance_workers = 0; SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', $include)")"
        ts+=("$w"); c+=("$cpu")
    done
    build=$(min "${t[@]}")
    build_serial=$(min "${ts[@]}")
    cpu=$(min "${c[@]}")
    cpu_par=$(min "${ca[@]}")
    bytes=$(q "SELECT bytes FROM parallel_material.arrangements WHERE relation = 'lineitem'::regclass")
    q "SELECT parallel_material.drop_arrangement('lineitem'::regclass, '{l_orderkey}')" >/dev/null
    read -r bpr bprb xheap xindex xcpu <<<"$(q "SELECT round($bytes::numeric / $rows, 1), round(($bytes + $buckets)::numeric / $rows, 1),
        round(($bytes + $buckets)::numeric / $heap, 3), round($build / nullif($t_index, 0), 2),
        round($cpu / nullif($c_index, 0), 2)" | tr '|' ' ')"
    printf '%-10s %10s %12s %8s %9s %7s %8s %8s %9s %8s %9s %9s\n' $variant "$rows" "$bytes" "$bpr" "$bprb" "$xheap" "$build" "$xindex" "$build_serial" "$cpu" "$xcpu" "$cpu_par"
    echo "METRIC $variant bytes_per_row $bpr"
    echo "METRIC $variant bytes_per_row_with_buckets $bprb"
    echo "METRIC $variant ratio_to_heap $xheap"
    echo "METRIC $variant build_s $build"
    echo "METRIC $variant build_ratio_to_index $xindex"
    echo "METRIC $variant build_cpu_s $cpu"
    echo "METRIC $variant build_cpu_ratio_to_serial_index $xcpu"
    echo "METRIC $variant build_s_serial $build_serial"
    echo "METRIC $variant build_cpu_s_parallel $cpu_par"
done
# adaptive: create_arrangement's default; Q3 once (EXPLAIN: the planner learns what it reads),
# then wait (at most 10 minutes) until the worker widened and rebuilt it
q "SET parallel_material.arrangement_default_columns = adaptive; SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}')" >/dev/null
q3=$(grep -v '^--' "$(dirname "$0")/scripts/q3.sql" | tr '\n' ' ')
for _ in $(seq 6000); do
    q "EXPLAIN $q3" >/dev/null
    done_=$(q "SELECT cardinality(columns) > 1 AND state = 'ready' FROM parallel_material.arrangements WHERE relation = 'lineitem'::regclass")
    [ "$done_" = t ] && break
    sleep 0.1
done
read -r bytes cols <<<"$(q "SELECT bytes, array_to_string(columns, ',') FROM parallel_material.arrangements WHERE relation = 'lineitem'::regclass" | tr '|' ' ')"
q "SELECT parallel_material.drop_arrangement('lineitem'::regclass, '{l_orderkey}')" >/dev/null
read -r bpr bprb xheap <<<"$(q "SELECT round($bytes::numeric / $rows, 1), round(($bytes + $buckets)::numeric / $rows, 1),
    round(($bytes + $buckets)::numeric / $heap, 3)" | tr '|' ' ')"
printf '%-10s %10s %12s %8s %9s %7s  (columns after Q3: %s)\n' adaptive "$rows" "$bytes" "$bpr" "$bprb" "$xheap" "$cols"
echo "METRIC adaptive bytes_per_row $bpr"
echo "METRIC adaptive bytes_per_row_with_buckets $bprb"
echo "METRIC adaptive ratio_to_heap $xheap"
echo "heap: $heap bytes ($(q "SELECT round($heap::numeric / $rows, 1)") B/row); bucket array: $buckets bytes ($buckets_rows if sized by rows; n_distinct(l_orderkey) $(q "SELECT n_distinct FROM pg_stats WHERE schemaname = 'public' AND tablename = 'lineitem' AND attname = 'l_orderkey'"), actual $(q "SELECT count(DISTINCT l_orderkey) FROM lineitem")); CREATE INDEX (l_orderkey): ${t_index}s wall (default parallel maintenance workers; ${ca_index}s CPU with its workers), ${c_index}s CPU serial (max_parallel_maintenance_workers = 0); build_s: the arrangement's build with the same settings (parallel), x_index: its wall ratio to CREATE INDEX's; serial_s, cpu_s: a serial build's wall and CPU, x_idx_cpu: that CPU's ratio to the serial CREATE INDEX's; par_cpu_s: the parallel build's CPU with its workers"
