#!/usr/bin/env bash
# shared_spill_hit.sh — hit latency of a shared result whose log spills (ring capped by
# parallel_material.share_ring_max) against one that fits its ring, and against stock.
# Needs a running cluster with parallel_material preloaded and parallel_material.shared_memory
# >= 256MB (PGHOST/PGPORT/PGUSER/PGDATABASE in the environment; PSQL and PGBENCH may point to the
# binaries). ROWS (default 220000: about 50 MB of log) and TX (hits per configuration, default 20).
# Prints, per configuration, pgbench's average latency and the entry's ring and spilled bytes.
set -euo pipefail
PSQL=${PSQL:-psql}
PGBENCH=${PGBENCH:-pgbench}
ROWS=${ROWS:-220000}
TX=${TX:-20}
$PSQL -qX -v ON_ERROR_STOP=1 <<SQL
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
run() {
    local label=$1 opts=$2
    $PSQL -qXAt -c 'SELECT parallel_material.reset_shared_results()' >/dev/null
    PGOPTIONS="$COMMON $opts" $PSQL -qXAt -c "$QUERY" >/dev/null   # produces the entry
    local lat
    lat=$(PGOPTIONS="$COMMON $opts" $PGBENCH -n -t "$TX" -f "$FILE" 2>&1 | sed -n 's/^latency average = //p')
    local entry
    entry=$($PSQL -qXAt -c "SELECT coalesce(string_agg(format('ring %s MB, spilled %s MB, hits %s, rows %s',
        round(bytes / 1048576.0, 1), round(spilled_bytes / 1048576.0, 1), hits, rows), '; '), 'no entry')
        FROM parallel_material.shared_results")
    printf '%-28s latency average %s  (%s)\n' "$label" "$lat" "$entry"
}
run "stock" "-c parallel_material.enable=off"
run "hit, ring fits (64MB)" "$SHARE -c parallel_material.share_ring_max=128MB"
run "hit, spills (ring 4MB)" "$SHARE -c parallel_material.share_ring_max=4MB"
run "hit, spills (ring 1MB)" "$SHARE -c parallel_material.share_ring_max=1MB"
rm -f "$FILE"
