#!/usr/bin/env python3
"""Generates the permutations of specs/views_chain_conc.spec (run from the repository root,
writes the spec to stdout). Each key set has one writer per written position of the chain
a - b - c - d; the permutations are the interleavings of their two steps (insert in an open
transaction, commit) that the isolation tester can run: a session's commit must not follow its
own insert while that insert still waits for a lock, so the key locks of docs/views.md
("Concurrency") are simulated here (which locks each insert takes, in which rounds, given which
writers have committed; modes RowExclusive 'RX' and Share 'SH' conflict with each other only; a
request also queues behind a conflicting waiter, as PostgreSQL's lock manager does).
Set 1 writes a, c, d (b pre-exists), set 2 a, b, d (c pre-exists): every valid interleaving.
Set 3 writes all four: a fixed-seed sample of 100 of its 594."""
import itertools, random, sys

# lock plans: session -> list of rounds; a round is (condition: set of sessions that must have
# committed when the round starts, else the round takes nothing, [(resource, mode), ...])
SETS = {
    1: {'A': [(set(), [('ab', 'RX')]), (set(), [('bc', 'RX')]), ({'C'}, [('cd', 'RX')])],
        'C': [(set(), [('bc', 'SH'), ('cd', 'RX')])],
        'D': [(set(), [('cd', 'SH')])]},
    2: {'A': [(set(), [('ab', 'RX')]), ({'B'}, [('bc', 'RX')]), ({'B'}, [('cd', 'RX')])],
        'B': [(set(), [('ab', 'SH'), ('bc', 'RX')]), (set(), [('cd', 'RX')])],
        'D': [(set(), [('cd', 'SH')])]},
    3: {'A': [(set(), [('ab', 'RX')]), ({'B'}, [('bc', 'RX')]), ({'B', 'C'}, [('cd', 'RX')])],
        'B': [(set(), [('ab', 'SH'), ('bc', 'RX')]), ({'C'}, [('cd', 'RX')])],
        'C': [(set(), [('bc', 'SH'), ('cd', 'RX')])],
        'D': [(set(), [('cd', 'SH')])]},
}

def compatible(a, b):
    return a == b and a != 'SRE'

def simulate(plans, perm):
    """None if the tester could not run perm (a commit after its own waiting insert), else True."""
    held = {}      # resource -> {session: mode}
    queue = {}     # resource -> [(session, mode)] in arrival order
    state = {}     # session -> [round, lock] while inserting; 'done'; 'committed'
    committed = set()

    def can_hold(s, res, want, ahead):
        others = [m for t, m in held.get(res, {}).items() if t != s]
        return all(compatible(want, m) for m in others) and all(compatible(want, m) for t, m in ahead if t != s)

    def advance(s, granted=False):
        r, k = state[s]
        rounds = plans[s]
        while r < len(rounds):
            cond, locks = rounds[r]
            if k == 0 and not granted and not cond <= committed:
                r += 1
                continue
            while k < len(locks):
                res, mode = locks[k]
                if not granted:
                    mine = held.get(res, {}).get(s)
                    want = mode if mine is None or mine == mode else 'SRE'
                    if not can_hold(s, res, want, queue.get(res, [])):
                        queue.setdefault(res, []).append((s, want))
                        state[s] = [r, k]
                        return
                    held.setdefault(res, {})[s] = want
                granted = False
                k += 1
            r, k = r + 1, 0
        state[s] = 'done'

    def wake():
        changed = True
        while changed:
            changed = False
            for res, q in queue.items():
                i = 0
                while i < len(q):
                    s, want = q[i]
                    if can_hold(s, res, want, q[:i]):
                        q.pop(i)
                        held.setdefault(res, {})[s] = want
                        advance(s, granted=True)
                        changed = True
                        break
                    i += 1
                if changed:
                    break

    for step in perm:
        s, what = step[0], step[1]
        if what == 'i':
            state[s] = [0, 0]
            advance(s)
        else:
            if state.get(s) != 'done':
                return None
            committed.add(s)
            state[s] = 'committed'
            for h in held.values():
                h.pop(s, None)
            wake()
    return True

def interleavings(sessions):
    steps = [s + x for s in sessions for x in 'ic']
    out = []
    for perm in itertools.permutations(steps):
        ok = all(perm.index(s + 'i') < perm.index(s + 'c') for s in sessions)
        if ok:
            out.append(perm)
    return sorted(set(out))

def main():
    names = {1: {'A': ('a1', 'ca1'), 'C': ('c1', 'cc1'), 'D': ('d1', 'cd1')},
             2: {'A': ('a2', 'ca2'), 'B': ('b2', 'cb2'), 'D': ('d2', 'cd2')},
             3: {'A': ('a3', 'ca3'), 'B': ('b3', 'cb3'), 'C': ('c3', 'cc3'), 'D': ('d3', 'cd3')}}
    perms = []
    for k in (1, 2, 3):
        plans = SETS[k]
        valid = [p for p in interleavings(sorted(plans)) if simulate(plans, p)]
        if k == 3:
            valid = random.Random(13).sample(valid, 100)
        for p in valid:
            perms.append(' '.join(names[k][st[0]][0 if st[1] == 'i' else 1] for st in p) + ' check' + str(k))
    sys.stdout.write(open('test/gen/views_chain_conc.head').read())
    for p in perms:
        sys.stdout.write('permutation ' + p + '\n')
    # the contrast: with the locks off, the joined row of set 1 is lost
    sys.stdout.write('# contrast: the locks off (superuser measurement aid), the view is wrong\n')
    sys.stdout.write('permutation c1o a1o cc1 d1o ca1 cd1 check1\n')
    sys.stdout.write('permutation d1o a1o c1o cc1 ca1 cd1 check1\n')

main()
