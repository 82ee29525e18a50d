#!/usr/bin/env python3
# callgrind_diff.py — per-function inclusive instructions of run B minus run A, divided by N
# (view_callgrind.sh: two runs with N1 and N2 statements after the same setup; the difference per
# statement is what one statement costs, start-up cancelled out). Needs callgrind_annotate.
# Usage: benchmarks/callgrind_diff.py A.out B.out N [top]
import re
import subprocess
import sys


def inclusive(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*?)(\s+\[[^\]]*\])?$", line)
        if m and ":" in m.group(2):
            name = m.group(2).split(":", 1)[1]
            costs[name] = max(costs.get(name, 0), int(m.group(1).replace(",", "")))
    return costs


a, b = inclusive(sys.argv[1]), inclusive(sys.argv[2])
n = int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 60
diff = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
for d, k in reversed(diff[-top:]):
    print(f"{d:12.0f}  {k[:150]}")
