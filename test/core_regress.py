#!/usr/bin/env python3
# test/core_regress.py — helpers of test/core-regress (PostgreSQL's own regression suite run in
# several configurations of the extension):
#   patch-copy SUITE_DIR   adapts an older suite's sql/ to the installed psql (see below)
#   compare BASE OTHER DIFFDIR [EXCLUDED...]
#                          compares each results/*.out of run OTHER with run BASE, ignoring
#                          EXPLAIN plan text; prints "TEST ok|FAILED|excluded" lines, writes one
#                          .diff per differing test into DIFFDIR.
#
# How plan text is told apart (docs/testing.md): psql prints a query's result as a block
#     <header line>
#     <line of '-' and '+'>
#     <rows...>
#     (N rows)
# A block whose header names a plan column (QUERY PLAN, the column EXPLAIN returns, or the
# column of one of the suite's EXPLAIN-wrapping functions, whose names all contain "explain"), or
# whose rows hold a plan in FORMAT JSON/XML/YAML (a "Node Type" field), is plan text: the whole block, rows and row count, is replaced by one "<plan>" line in both files
# before they are compared. Everything else (the echoed SQL, every other result, every error,
# notice and warning, including errors raised by an EXPLAIN) must be identical.
import os
import re
import sys
import difflib

PLAN_HEADER = re.compile(r'^\s*(QUERY PLAN|[a-z_]*explain[a-z_]*)\s*$', re.IGNORECASE)
# a plan in FORMAT JSON, XML or YAML (also when a test re-formats it, e.g. with jsonb_pretty)
PLAN_FIELD = re.compile(r'"Node Type":|<Node-Type>|^\s*-? ?Node Type: ')
RULE = re.compile(r'^-+(\+-+)*$')
ROWS = re.compile(r'^\((\d+) rows?\)$')


def filter_plans(lines):
    out = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if i + 1 < n and RULE.match(lines[i + 1].rstrip('\n')):
            j = i + 2
            while j < n and not ROWS.match(lines[j].rstrip('\n')):
                j += 1
            # a complete block whose header or rows say it is a plan: replace it
            if j < n and (PLAN_HEADER.match(line) or
                          any(PLAN_FIELD.search(l) for l in lines[i + 2:j])):
                out.append('<plan>\n')
                i = j + 1
                continue
        out.append(line)
        i += 1
    return out


def read(path):
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        return f.readlines()


def compare(base, other, diffdir, excluded):
    os.makedirs(diffdir, exist_ok=True)
    base_res = os.path.join(base, 'results')
    other_res = os.path.join(other, 'results')
    tests = sorted(f[:-4] for f in os.listdir(base_res) if f.endswith('.out'))
    if os.path.isdir(other_res):
        tests = sorted(set(tests) | {f[:-4] for f in os.listdir(other_res) if f.endswith('.out')})
    for t in tests:
        if t in excluded:
            print(f'{t} excluded')
            continue
        a = os.path.join(base_res, t + '.out')
        b = os.path.join(other_res, t + '.out')
        if not os.path.exists(a) or not os.path.exists(b):
            print(f'{t} FAILED (no result file in {"the stock run" if not os.path.exists(a) else "this run"})')
            continue
        la, lb = read(a), read(b)
        if la == lb:
            print(f'{t} ok')
            continue
        fa, fb = filter_plans(la), filter_plans(lb)
        if fa == fb:
            print(f'{t} ok (plan text differs)')
            with open(os.path.join(diffdir, t + '.plan.diff'), 'w', errors='surrogateescape') as f:
                f.writelines(difflib.unified_diff(la, lb, a, b))
            continue
        print(f'{t} FAILED')
        with open(os.path.join(diffdir, t + '.diff'), 'w', errors='surrogateescape') as f:
            f.writelines(difflib.unified_diff(fa, fb, a + ' (plans filtered)', b + ' (plans filtered)'))


# psql from 15.19 on, after a COPY ... FROM STDIN that fails before it starts, skips the in-line
# data up to the next "\." line (older psql read it as SQL). The 15.19 suite puts a "\." after
# each such COPY that has no data; an older suite does not, and with a newer psql everything up
# to the next "\." would silently vanish from the test. A COPY FROM STDIN statement is given a
# "\." line when the suite's own expected output shows that it failed and that the next SQL line
# of the file is echoed after its error (so that line is SQL, not data).
COPY_STDIN = re.compile(r'^\s*copy\b.*\bfrom\s+stdin\b[^;]*;\s*(--.*)?$', re.IGNORECASE)
DIAG = re.compile(r'^(ERROR|DETAIL|HINT|CONTEXT|LINE \d+|WARNING|NOTICE):|^\s*\^\s*$|^\s')


def patch_copy(suite):
    sqldir = os.path.join(suite, 'sql')
    patched = 0
    for name in sorted(os.listdir(sqldir)):
        if not name.endswith('.sql'):
            continue
        exp = os.path.join(suite, 'expected', name[:-4] + '.out')
        if not os.path.exists(exp):
            continue
        sql = read(os.path.join(sqldir, name))
        if not any(COPY_STDIN.match(l) for l in sql):
            continue
        out = [l.rstrip('\n') for l in read(exp)]
        res = []
        pos = 0  # search position in the expected output (statements appear in order)
        for i, line in enumerate(sql):
            res.append(line)
            if not COPY_STDIN.match(line):
                continue
            try:
                k = out.index(line.rstrip('\n'), pos)
            except ValueError:
                continue
            pos = k + 1
            nxt = next((l.rstrip('\n') for l in sql[i + 1:] if l.strip() != ''), None)
            if nxt is None or nxt == '\\.':
                continue
            j = k + 1
            if j >= len(out) or not out[j].startswith('ERROR:'):
                continue  # it started: the lines below are its data
            while j < len(out) and DIAG.match(out[j]):
                j += 1
            if j < len(out) and out[j] == nxt:
                res.append('\\.\n')
                patched += 1
        with open(os.path.join(sqldir, name), 'w', errors='surrogateescape') as f:
            f.writelines(res)
    print(f'patched {patched} COPY statements')


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'patch-copy':
        patch_copy(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == 'compare':
        compare(sys.argv[2], sys.argv[3], sys.argv[4], set(sys.argv[5:]))
    else:
        sys.exit('usage: core_regress.py patch-copy SUITE | compare BASE OTHER DIFFDIR [EXCLUDED...]')


if __name__ == '__main__':
    main()
