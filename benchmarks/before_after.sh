#!/usr/bin/env bash
# benchmarks/before_after.sh — an issue's "before and after" benchmark run on one machine.
#
#   benchmarks/before_after.sh BEFORE_COMMIT [benchmarks/run arguments...]
#   e.g. benchmarks/before_after.sh cf077c8 --full --duration-scale 0.5
#
# Builds BEFORE_COMMIT in a worktree (.build/before-<sha>) and installs it, runs this checkout's
# harness with --no-install against it, then builds and installs this checkout and runs the same
# harness again, and prints benchmarks/compare_runs.py of the two runs. The scenarios, settings
# and data are this checkout's in both runs, so only the extension's binary differs; scenarios
# that need what BEFORE_COMMIT lacks fail in its run and are listed as measured only once. Each
# run records which extension it measured (PM_BENCH_EXTENSION_COMMIT: the runs table's
# git_commit reads "<harness> (extension <sha>)"). Run it on a quiet machine.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tools/lib.sh"
[ $# -ge 1 ] || pm_die "usage: benchmarks/before_after.sh BEFORE_COMMIT [benchmarks/run arguments...]"
before=$(git -C "$PM_ROOT" rev-parse --short=12 "$1^{commit}") || pm_die "unknown commit $1"
shift
after=$(git -C "$PM_ROOT" rev-parse --short=12 HEAD)
for a in "$@"; do
    case $a in --pg|--pg=*|--no-install) pm_die "before_after.sh: $a is not supported (PostgreSQL 15, installed here)" ;; esac
done
"$PM_ROOT/tools/deps" || pm_die "tools/deps failed"
pm_check_pg_config

wt=$PM_ROOT/.build/before-$before
if [ ! -d "$wt" ]; then
    git -C "$PM_ROOT" worktree add --detach "$wt" "$before" >/dev/null || pm_die "git worktree add failed"
fi
install_from() {  # DIR: build and install that checkout (as benchmarks/run would)
    make -C "$1" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >"$1/.before_after_build.log" 2>&1 &&
        make -C "$1" install PG_CONFIG="$PG_CONFIG" ${PM_PG_ROOT:+DESTDIR="$PM_PG_ROOT"} >>"$1/.before_after_build.log" 2>&1 ||
        { tail -30 "$1/.before_after_build.log" >&2; pm_die "build of $1 failed"; }
}
run_with() {  # SHA ARGS...: one harness run against the installed extension; prints its run id
    local sha=$1 log
    shift
    log=$(mktemp)
    PM_BENCH_EXTENSION_COMMIT=$sha "$HERE/run" --no-install "$@" 2>&1 | tee "$log" >&2
    grep -o 'results.sqlite run_id [0-9-]*' "$log" | tail -1 | awk '{print $3}'
    rm -f "$log"
}

pm_log "before: extension $before"
install_from "$wt"
run_before=$(run_with "$before" "$@")
[ -n "$run_before" ] || pm_die "the before run stored no results"
pm_log "after: extension $after (this checkout)"
install_from "$PM_ROOT"
run_after=$(run_with "$after" "$@")
[ -n "$run_after" ] || pm_die "the after run stored no results"
echo
echo "== before $before (run $run_before), after $after (run $run_after)"
/usr/bin/python3 "$HERE/compare_runs.py" "$run_before" "$run_after"
