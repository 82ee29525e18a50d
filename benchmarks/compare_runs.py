#!/usr/bin/python3
"""compare_runs.py — two stored benchmark runs side by side (benchmarks/results.sqlite).

    benchmarks/compare_runs.py BEFORE_RUN_ID AFTER_RUN_ID [--all]

Used by benchmarks/before_after.sh for an issue's "nothing else regresses" check. For every
measurement both runs hold (scenario, variant, phase, action, metric), prints before, after and
the change; by default only the figures that carry a verdict: ratios against stock or another
variant measured in the same run (those cancel the machine's state between the two runs), QPS
and p99; a phase's total CPU and memory ratios are shown, not judged (they grow with the queries
the phase completed: cpu_per_txn_ratio is the CPU verdict). A change more than 10% in the worse direction is marked REGRESSION (ratios and the
extension variants' QPS/p99); stock's own figures are shown as the machine's drift between the
runs. Exit status 0 either way: the verdict is the reader's, with the runs' notes.
"""
import sqlite3
import sys
import os

DB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.sqlite")


def direction(metric):
    """+1 higher is better, -1 lower is better, 0 no verdict."""
    m = metric.lower()
    if "qps" in m or m in ("hits", "inserts_per_s"):
        return 1
    if any(s in m for s in ("p99", "p95", "p50", "cpu", "mem", "_ms", "bytes", "build", "ratio_to", "stale", "errors")):
        return -1
    return 0


def load(con, run):
    rows = con.execute("SELECT scenario, variant, phase, action, metric, value FROM measurements "
                       "WHERE run_id = ?", (run,)).fetchall()
    if not rows:
        sys.exit(f"compare_runs: no measurements stored for run {run}")
    return {(s, v, p, a, m): val for s, v, p, a, m, val in rows}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_all = "--all" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    con = sqlite3.connect(DB)
    for run in args:
        r = con.execute("SELECT started, git_commit, mode FROM runs WHERE run_id = ?", (run,)).fetchone()
        print(f"{run}: {r[2] if r else '?'} run started {r[0] if r else '?'}, commit {r[1] if r else '?'}")
    a, b = load(con, args[0]), load(con, args[1])
    keys = sorted(set(a) & set(b))
    # scenarios one run measured and the other did not (qps 0: its queries failed there)
    measured = lambda d: {k[0] for k, v in d.items() if k[4] == "qps" and v > 0}
    only = sorted(measured(a) ^ measured(b))
    worse = 0
    print(f"{'scenario/phase/action/variant':64s} {'metric':34s} {'before':>12s} {'after':>12s} {'change':>8s}")
    for k in keys:
        sc, v, ph, act, m = k
        # a verdict: per-query ratios, QPS and p99; a phase's total CPU or memory against stock's
        # grows with the queries it completed, so it is shown but not judged
        verdict = (("ratio" in m and not m.startswith(("cpu_ratio", "mem_ratio")))
                   or m in ("qps", "p99_ms"))
        shown = verdict or m.startswith(("cpu_ratio", "mem_ratio"))
        if not (show_all or shown):
            continue
        x, y = a[k], b[k]
        d = direction(m)
        ch = (y - x) / x if x else None
        flag = ""
        if ch is not None and d and v != "stock" and d * ch < -0.10 and verdict:
            flag = " REGRESSION"
            worse += 1
        cs = "" if ch is None else f"{ch:+.1%}"
        print(f"{'/'.join((sc, ph, act, v)):64s} {m:34s} {x:12.3f} {y:12.3f} {cs:>8s}{flag}")
    print(f"{len(keys)} figures in both runs; {worse} marked REGRESSION (>10% worse; ratios, extension QPS/p99)")
    if only:
        print("scenarios measured (some QPS above 0) in only one of the runs: " + ", ".join(only))


if __name__ == "__main__":
    main()
