#!/usr/bin/python3
"""benchmarks/bench.py — the scenario runner behind benchmarks/run.

Expects a running private cluster (PGHOST, PGPORT, PGUSER exported, PM_CLUSTER_DIR set by
tools/lib.sh's pm_cluster_start). Loads scenarios from benchmarks/scenarios/*.json, generates the
TPC-H-shaped data once, runs every phase's variants interleaved (A B A B) with pgbench, computes
QPS and latency percentiles from pgbench's per-transaction logs, samples backend memory and CPU
from /proc, stores every figure in benchmarks/results.sqlite, compares with the previous run of the
same mode, checks guarantees and writes benchmarks/report/<run_id>/summary.md with PNG plots.
Only the Python standard library and matplotlib (Agg) are used: run it with /usr/bin/python3.
"""
import argparse
import datetime
import fnmatch
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
DB_FILE = os.path.join(BENCH_DIR, "results.sqlite")
REPORT_DIR = os.path.join(BENCH_DIR, "report")
SCENARIO_DIR = os.path.join(BENCH_DIR, "scenarios")
SCRIPT_DIR = os.path.join(BENCH_DIR, "scripts")
BINDIR = os.environ.get("PM_BINDIR") or subprocess.run(
    [os.environ.get("PG_CONFIG", "pg_config"), "--bindir"], capture_output=True, text=True).stdout.strip()
PGBENCH = os.path.join(BINDIR, "pgbench")
PSQL = os.path.join(BINDIR, "psql")
CLK_TCK = os.sysconf("SC_CLK_TCK")

MODES = {
    # scale factor, default repetitions per variant, default phase seconds, pgbench -i scale
    "quick": {"sf": 0.05, "reps": 2, "duration": 3, "tpcb_scale": 1},
    "full": {"sf": 1.0, "reps": 2, "duration": 30, "tpcb_scale": 10},
}
DEFAULT_VARIANTS = {
    "stock": {"settings": {"parallel_material.enable": "off"}},
    "extension": {"settings": {"parallel_material.enable": "on"}},
}
# metric -> +1 when higher is better, -1 when lower is better (regression checks)
# (cpu_s is not one: over a fixed duration it grows with throughput; cpu_ms_per_txn is)
DIRECTION = {"qps": 1, "p50_ms": -1, "p95_ms": -1, "p99_ms": -1, "cpu_ms_per_txn": -1,
             "mem_peak_sum_rss_anon_kb": -1, "mem_peak_rss_anon_kb": -1}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt_secs(s):
    s = int(max(0, s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# ----------------------------------------------------------------------------------------- psql
class PgError(Exception):
    pass


def pgoptions(settings):
    return " ".join(f"-c {k}={v}" for k, v in (settings or {}).items())


def psql(sql, db="postgres", settings=None, check=True):
    """Runs SQL through psql; returns rows as lists of strings (tab separated, unaligned)."""
    env = dict(os.environ, PGOPTIONS=pgoptions(settings))
    r = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db],
                       input=sql, text=True, capture_output=True, env=env)
    if r.returncode != 0 and check:
        raise PgError(f"psql on {db} failed: {r.stderr.strip()[-800:]}\nSQL: {sql[:300]}")
    return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


def db_exists(db):
    return bool(psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"))


def ensure_db(db):
    if not db_exists(db):
        psql(f'CREATE DATABASE "{db}"')
    psql("CREATE EXTENSION IF NOT EXISTS parallel_material", db=db)


# -------------------------------------------------------------------------------------- scenarios
def by_mode(v, mode):
    """A value written as {"quick": x, "full": y} resolves to the mode's entry."""
    if isinstance(v, dict) and set(v) <= {"quick", "full"} and v:
        return v.get(mode)
    if isinstance(v, dict):
        return {k: by_mode(x, mode) for k, x in v.items()}
    if isinstance(v, list):
        return [by_mode(x, mode) for x in v]
    return v


def substitute(v, var, val):
    if isinstance(v, str):
        if v == "{" + var + "}":
            return val
        return v.replace("{" + var + "}", str(val))
    if isinstance(v, dict):
        return {k: substitute(x, var, val) for k, x in v.items()}
    if isinstance(v, list):
        return [substitute(x, var, val) for x in v]
    return v


def expand_phases(phases):
    """A phase with "matrix": {"var": [values...]} becomes one phase per value, {var} substituted."""
    out = []
    for ph in phases:
        if ph is None:
            continue
        m = ph.get("matrix")
        if not m:
            out.append(ph)
            continue
        (var, values), = m.items()
        for val in values or []:
            p = substitute({k: x for k, x in ph.items() if k != "matrix"}, var, val)
            p["matrix_value"] = val
            out.append(p)
    return out


def load_scenarios(mode):
    scs = []
    for path in sorted(glob.glob(os.path.join(SCENARIO_DIR, "*.json"))):
        with open(path) as f:
            raw = json.load(f)
        sc = by_mode(raw, mode)
        sc["file"] = os.path.relpath(path, ROOT)
        sc.setdefault("kind", "pgbench")
        sc.setdefault("database", "bench")
        sc.setdefault("data", "tpch" if sc["database"] == "bench" else "none")
        sc["variants"] = sc.get("variants") or DEFAULT_VARIANTS
        sc["phases"] = expand_phases(sc.get("phases", []))
        scs.append(sc)
    return scs


def check_requires(reqs, db):
    """Each requirement: {"sql": "<boolean expression or query>", "reason": "..."} or
    {"file": "path relative to the repo", "reason": ...}. Returns None or the first unmet reason."""
    for r in reqs or []:
        if "file" in r:
            if not os.access(os.path.join(ROOT, r["file"]), os.X_OK):
                return r.get("reason", f"{r['file']} not present")
            continue
        sql = r["sql"].strip().rstrip(";")
        if not re.match(r"(?is)^\s*select\b", sql):
            sql = f"SELECT ({sql})"
        try:
            rows = psql(sql + ";", db=db)
        except PgError as e:
            return r.get("reason", "") + f" (probe failed: {str(e).splitlines()[0]})"
        if not rows or rows[0][0] not in ("t", "true", "1"):
            return r.get("reason", f"requirement not met: {r['sql']}")
    return None


# ------------------------------------------------------------------------------------------ data
def generate_tpch(sf, seed):
    with open(os.path.join(BENCH_DIR, "data", "tpch.sql")) as f:
        text = f.read()
    parts = re.split(r"^-- @step (\w+)\s*$", text, flags=re.M)
    vals = {"sf": sf, "seed": seed, "n_customer": max(1, int(150000 * sf)),
            "n_orders": max(1, int(1500000 * sf)), "n_part": max(1, int(200000 * sf)),
            "n_supplier": max(4, int(10000 * sf))}
    ensure_db("bench")
    rows = {"customer": vals["n_customer"], "orders": vals["n_orders"], "lineitem": 4 * vals["n_orders"],
            "part": vals["n_part"], "supplier": vals["n_supplier"], "partsupp": 4 * vals["n_part"],
            "nation": 25, "region": 5}
    t0 = time.time()
    steps = list(zip(parts[1::2], parts[2::2]))
    for i, (name, body) in enumerate(steps, 1):
        for k, v in vals.items():
            body = body.replace("{" + k + "}", str(v))
        t = time.time()
        what = f"{name} (~{rows[name]:,} rows)" if name in rows else name
        log(f"[data] {i}/{len(steps)} loading {what} ...")
        psql("SET client_min_messages = warning;\n" + body, db="bench")
        log(f"[data] {i}/{len(steps)} {name} done in {time.time() - t:.1f}s")
    counts = dict(psql("SELECT 'lineitem', count(*) FROM lineitem UNION ALL SELECT 'orders', count(*) FROM orders "
                       "UNION ALL SELECT 'customer', count(*) FROM customer", db="bench"))
    size = psql("SELECT pg_database_size('bench')")[0][0]
    log(f"[data] TPC-H-shaped SF {sf} seed {seed} loaded in {time.time() - t0:.1f}s: "
        f"{', '.join(f'{k} {int(v):,}' for k, v in counts.items())}, {int(size) / 2**20:.0f} MiB")
    return vals, time.time() - t0


# ------------------------------------------------------------------------------ /proc sampling
def postmaster_pid():
    with open(os.path.join(os.environ["PM_CLUSTER_DIR"], "data", "postmaster.pid")) as f:
        return int(f.readline())


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if int(fields[1]) == ppid:
            out.append((int(d), fields))
    return out


def cpu_total(pm):
    """CPU seconds used so far by every process of the cluster: live children (utime+stime) plus
    children already reaped by the postmaster (its cutime+cstime). Differences of this figure
    cover backends and parallel workers that started and ended in between."""
    with open(f"/proc/{pm}/stat") as f:
        st = f.read()
    pf = st[st.rfind(")") + 2:].split()
    ticks = int(pf[13]) + int(pf[14])  # cutime, cstime (fields 16, 17)
    for _, fields in children(pm):
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / CLK_TCK


def wait_quiet(pm, timeout=10.0):
    """Waits until no client backend or parallel worker of the cluster is alive or unreaped (a
    zombie's /proc figures read 0 while the postmaster has not yet added them to its cutime), so
    that CPU snapshots neither miss nor double-count a process that is just exiting."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = False
        for pid, fields in children(pm):
            if fields[0] == "Z":
                busy = True
                break
            try:
                with open(f"/proc/{pid}/cmdline") as f:
                    title = f.read()
            except OSError:
                continue
            # an exiting process reads an empty cmdline before it turns into a zombie
            if not title or "parallel worker" in title or "(" in title:
                busy = True
                break
        if not busy:
            return True
        time.sleep(0.02)
    return False


def read_status(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssShmem"):
                    vals[k] = int(v.split()[0])
        with open(f"/proc/{pid}/cmdline") as f:
            vals["title"] = f.read().replace("\0", " ")
    except OSError:
        return None
    return vals


class MemSampler(threading.Thread):
    """Samples /proc/<pid>/status of client backends and parallel workers every `interval` s.
    Peaks between samples can be missed (short parallel workers especially); VmHWM is the
    kernel's own peak RSS of a process but includes shared buffers it touched."""

    def __init__(self, pm, interval=0.1):
        super().__init__(daemon=True)
        self.pm, self.interval = pm, interval
        self.stop_ev = threading.Event()
        self.peak_sum_anon = self.peak_anon = self.peak_hwm = self.peak_workers = 0
        self.peak_backends = 0

    def run(self):
        while not self.stop_ev.is_set():
            s_anon, workers, backends = 0, 0, 0
            for pid, _ in children(self.pm):
                st = read_status(pid)
                if not st:
                    continue
                title = st.get("title", "")
                is_worker = "parallel worker" in title
                if not (is_worker or "(" in title):  # client backends show "host(port)"
                    continue
                workers += is_worker
                backends += not is_worker
                s_anon += st.get("RssAnon", 0)
                self.peak_anon = max(self.peak_anon, st.get("RssAnon", 0))
                self.peak_hwm = max(self.peak_hwm, st.get("VmHWM", 0))
            self.peak_sum_anon = max(self.peak_sum_anon, s_anon)
            self.peak_workers = max(self.peak_workers, workers)
            self.peak_backends = max(self.peak_backends, backends)
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join()


# ------------------------------------------------------------------------------------- pgbench
def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse_pgbench_logs(prefix):
    """pgbench -l lines: client_id transaction_no time_us script_no time_epoch time_us_part
    [schedule_lag_us]. Returns (latencies in ms, errors). Failed/skipped transactions count as errors."""
    lat, errors, t_first, t_last = [], 0, None, None
    for path in glob.glob(prefix + ".*"):
        if not re.fullmatch(r"\.\d+(\.\d+)?", path[len(prefix):]):
            continue  # pgbench's logs are PREFIX.<pid> and PREFIX.<pid>.<thread>
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                try:
                    us = int(parts[2])
                    lat.append(us / 1000.0)
                    end = int(parts[4]) + int(parts[5]) / 1e6
                    start = end - us / 1e6
                    t_first = start if t_first is None else min(t_first, start)
                    t_last = end if t_last is None else max(t_last, end)
                except (ValueError, IndexError):
                    errors += 1
    span = (t_last - t_first) if lat else None
    return lat, errors, span


def action_cmd(action, db, duration, logprefix, defines):
    cmd = [PGBENCH, "-n", "-T", str(duration), "-l", f"--log-prefix={logprefix}"]
    clients = int(action.get("clients", 1))
    cmd += ["-c", str(clients), "-j", str(min(clients, 4))]
    if action.get("rate"):
        cmd += ["-R", str(action["rate"])]
    if action.get("protocol"):
        cmd += ["-M", action["protocol"]]  # simple (pgbench's default), extended, prepared
    if action.get("builtin"):
        cmd += ["-b", action["builtin"]]
    else:
        script = action.get("script")
        if script:
            path = os.path.join(SCRIPT_DIR, script)
        else:
            path = logprefix + ".script.sql"
            with open(path, "w") as f:
                f.write(action["sql"].strip() + "\n")
        cmd += ["-f", path]
    for k, v in defines.items():
        cmd += ["-D", f"{k}={v}"]
    return cmd + [db]


def prime_actions(sc, phase, env, tmpdir, tag, defines):
    """A variant or phase with "prime": true runs each action's script once, one client, with the
    measurement's settings and protocol, before the clock and the CPU count start: the shared
    entry a hit phase reads is produced outside the window (at SF 1 producing Q1 takes seconds, as
    long as a quick measurement). Returns (seconds, failures)."""
    failed = []
    t0 = time.time()
    for a in phase["actions"]:
        if a.get("builtin"):
            continue
        prefix = os.path.join(tmpdir, f"{tag}_{a['name']}_prime")
        cmd = action_cmd({k: v for k, v in a.items() if k not in ("clients", "rate")}, sc["database"], 1,
                         prefix, defines)
        cmd = [c for c in cmd if c != "-l" and not c.startswith("--log-prefix=")]
        cmd[cmd.index("-T"):cmd.index("-T") + 2] = ["-t", "1"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            failed.append(f"{a['name']}: priming run: pgbench exit {r.returncode}: "
                          f"{(r.stdout + r.stderr).strip()[-600:]}")
    return time.time() - t0, failed


def run_measurement(sc, phase, variant, duration, tmpdir, tag, defines, pm):
    """One variant of one phase once: every action's pgbench runs concurrently."""
    settings = dict(variant.get("settings", {}))
    settings.update(phase.get("settings", {}))
    env = dict(os.environ, PGOPTIONS=pgoptions(settings))
    procs = []
    sampler = MemSampler(pm)
    prime_s, failed = None, []
    if phase.get("prime", variant.get("prime")):
        wait_quiet(pm)
        prime_s, failed = prime_actions(sc, phase, env, tmpdir, tag, defines)
    wait_quiet(pm)
    cpu0, t0 = cpu_total(pm), time.time()
    sampler.start()
    for a in phase["actions"]:
        prefix = os.path.join(tmpdir, f"{tag}_{a['name']}")
        cmd = action_cmd(a, sc["database"], duration, prefix, defines)
        out = open(prefix + ".out", "w")
        procs.append((a, prefix, subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env), out))
    results = {}
    for a, prefix, p, out in procs:
        rc = p.wait()
        out.close()
        lat, errors, span = parse_pgbench_logs(prefix)
        if rc != 0:
            with open(prefix + ".out") as f:
                failed.append(f"{a['name']}: pgbench exit {rc}: {f.read().strip()[-600:]}")
        # QPS divides by the span from the first transaction's start to the last one's end (pgbench
        # lets transactions in flight at -T finish): n / -T would quantize slow queries badly.
        elapsed = span if span and span > 0.5 * duration else duration
        results[a["name"]] = {"lat": lat, "errors": errors + (1 if rc else 0), "duration": elapsed}
    wall = time.time() - t0
    sampler.stop()
    wait_quiet(pm)
    cpu = cpu_total(pm) - cpu0
    res = {"actions": results, "wall_s": wall, "cpu_s": cpu,
           "mem_peak_sum_rss_anon_kb": sampler.peak_sum_anon, "mem_peak_rss_anon_kb": sampler.peak_anon,
           "mem_peak_vmhwm_kb": sampler.peak_hwm, "workers_seen": sampler.peak_workers,
           "failures": failed}
    if prime_s is not None:
        res["prime_ms"] = 1000.0 * prime_s
    return res


STANDARD_EXPLAIN_KEYS = {"Startup Cost", "Total Cost", "Plan Rows", "Plan Width", "Actual Startup Time",
                         "Actual Total Time", "Actual Rows", "Actual Loops", "Rows Removed by Filter",
                         "Workers Planned", "Workers Launched"}


def explain_sql(phase, defines):
    """The phase's "explain": SQL text, or true for the first action's script (comments and
    pgbench meta-commands dropped, :variables from -D substituted)."""
    e = phase["explain"]
    if e is True:
        a = phase["actions"][0]
        text = a.get("sql") or open(os.path.join(SCRIPT_DIR, a["script"])).read()
        e = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(("\\", "--")))
    for k, v in defines.items():
        e = re.sub(r":" + k + r"\b", str(v), e)
    return e.strip().rstrip(";")


def explain_loops(sc, phase, variant, defines):
    """EXPLAIN (ANALYZE, FORMAT JSON) of the phase's query: execution time and how many times the
    child of every Materialize (or parallel_material custom scan) node ran (its Actual Loops)."""
    settings = dict(variant.get("settings", {}))
    settings.update(phase.get("settings", {}))
    rows = psql("EXPLAIN (ANALYZE, FORMAT JSON) " + explain_sql(phase, defines) + ";",
                db=sc["database"], settings=settings)
    doc = json.loads("\n".join(r[0] for r in rows))[0]
    loops, nodes, workers = 0, 0, 0
    pm_nodes, par_nl_mat, leaf_rows = 0, 0, 0.0
    custom = {}

    def walk(n, under_gather=False, in_mat=False, inner_of_nl=False):
        nonlocal loops, nodes, workers, pm_nodes, par_nl_mat, leaf_rows
        nt = n.get("Node Type", "")
        is_pm = nt == "Custom Scan" and "material" in n.get("Custom Plan Provider", "").lower()
        if nt == "Materialize" or is_pm:
            nodes += 1
            for c in n.get("Plans", []):
                loops += c.get("Actual Loops", 0)
        if is_pm and n.get("Custom Plan Provider") == "ParallelMaterial":
            pm_nodes += 1
        # PostgreSQL 18's per-worker Material: a Materialize that is the inner side of a Nested
        # Loop run below a Gather (each participant materializes its own copy)
        if nt == "Materialize" and inner_of_nl and under_gather:
            par_nl_mat += 1
        # rows read by the scans below the outermost material node(s), all participants and loops
        if in_mat and not n.get("Plans"):
            leaf_rows += n.get("Actual Rows", 0) * n.get("Actual Loops", 0)
        if is_pm:
            # the custom scan's own numeric EXPLAIN fields (Materializations, Peak Memory in kB,
            # Rows Read, Pages Spilled...): summed over nodes, peaks maxed; metric pm_<field>
            for k, val in n.items():
                if k in STANDARD_EXPLAIN_KEYS or isinstance(val, bool) or not isinstance(val, (int, float)):
                    continue
                m = "pm_" + re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_")
                if "peak" in m:
                    m += "_kb" if "memory" in m else ""
                    custom[m] = max(custom.get(m, 0), val)
                else:
                    custom[m] = custom.get(m, 0) + val
        workers += n.get("Workers Launched", 0)
        for c in n.get("Plans", []):
            walk(c, under_gather or nt in ("Gather", "Gather Merge"), in_mat or nt == "Materialize" or is_pm,
                 nt == "Nested Loop" and c.get("Parent Relationship") == "Inner")

    walk(doc["Plan"])
    out = {"explain_ms": doc.get("Execution Time"), "material_nodes": nodes,
           "material_child_loops": loops, "workers_launched": workers,
           "parallel_material_nodes": pm_nodes, "parallel_nestloop_materials": par_nl_mat,
           "material_leaf_rows": leaf_rows}
    out.update(custom)
    return out


def shmem():
    r = psql("SELECT sum(allocated_size), coalesce(sum(allocated_size) FILTER "
             "(WHERE name ILIKE '%parallel_material%'), 0) FROM pg_shmem_allocations")[0]
    return {"shmem_total_bytes": float(r[0]), "shmem_ext_bytes": float(r[1])}


# ------------------------------------------------------------------------------------ the run
class Runner:
    def __init__(self, args):
        self.args = args
        self.mode = "full" if args.full else "quick"
        self.cfg = dict(MODES[self.mode])
        if args.sf:
            self.cfg["sf"] = args.sf
        if args.reps:
            self.cfg["reps"] = args.reps
        self.run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.rows = []        # measurement dicts
        self.skipped = []     # (scenario, variant or None, reason)
        self.guarantees = []  # (scenario, text, pass)
        self.notes = []
        self.pm = postmaster_pid()
        self.pg_major = int(psql("SHOW server_version_num")[0][0]) // 10000
        self.tmpdir = os.path.join(os.environ.get("PM_WORK", "/tmp"), "bench-logs", self.run_id)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.overhead = 1.0  # seconds per measurement beyond its duration (learned as we go)
        self.explain_s = 2.0  # seconds per EXPLAIN ANALYZE probe (learned as we go)
        self.externals = {}

    def add(self, sc, variant, phase, action, metric, value, clients=None, rate=None):
        if value is None:
            return
        self.rows.append({"scenario": sc, "variant": variant, "phase": phase, "action": action,
                          "clients": clients, "rate": rate, "metric": metric, "value": float(value)})

    # ---- planning
    def plan(self, scenarios):
        todo = []
        for sc in scenarios:
            if self.args.scenario and sc["name"] not in self.args.scenario:
                continue
            if sc["kind"] == "external":
                reason = check_requires(sc.get("requires"), "postgres")
                if reason:
                    self.skipped.append((sc["name"], None, reason))
                else:
                    todo.append(sc)
                continue
            ensure_db(sc["database"])
            reason = check_requires(sc.get("requires"), sc["database"])
            if reason:
                self.skipped.append((sc["name"], None, reason))
                continue
            variants = {}
            for vname, v in sc["variants"].items():
                vr = check_requires(v.get("requires"), sc["database"])
                if vr:
                    self.skipped.append((sc["name"], vname, vr))
                else:
                    variants[vname] = v
            sc["active_variants"] = variants
            sc["reps_n"] = int(sc.get("reps") or self.cfg["reps"])
            if self.args.reps:
                sc["reps_n"] = self.args.reps
            todo.append(sc)
        if self.args.scenario:
            known = {s["name"] for s in scenarios}
            for n in self.args.scenario:
                if n not in known:
                    raise SystemExit(f"unknown scenario {n!r}; known: {', '.join(sorted(known))}")
        return todo

    def phase_duration(self, sc, ph):
        d = ph.get("duration") or sc.get("duration") or self.cfg["duration"]
        return max(1, int(round(float(d) * self.args.duration_scale)))

    def estimate(self, steps):
        t = 0.0
        for kind, sc, ph, _v, _r in steps:
            if kind == "measure":
                t += self.phase_duration(sc, ph) + self.overhead
            elif kind == "explain":
                t += self.explain_s
            elif kind == "external":
                t += float(sc.get("estimate_s", 60))
        return t

    # ---- execution
    def execute(self, todo):
        steps = []
        for sc in todo:
            if sc["kind"] == "external":
                steps.append(("external", sc, None, None, None))
                continue
            for n, ph in enumerate(sc["phases"]):
                # A B A B within a phase; the next phase starts with B (B A B A), so that whatever
                # the first measurement after a phase change pays is not always paid by stock.
                order = list(sc["active_variants"])
                if n % 2 == 1:
                    order.reverse()
                for rep in range(1, sc["reps_n"] + 1):
                    # With three or more variants the order also rotates per repetition (A B C,
                    # B C A, C A B): each variant takes each position, so none always follows the same one.
                    k = (rep - 1) % len(order) if len(order) > 2 else 0
                    for vname in order[k:] + order[:k]:
                        steps.append(("measure", sc, ph, vname, rep))
                if ph.get("explain"):
                    for vname in sc["active_variants"]:
                        steps.append(("explain", sc, ph, vname, None))
        if any(s[1]["data"] == "tpch" for s in steps):
            self.data_vals, self.data_s = generate_tpch(self.cfg["sf"], self.args.seed)
        else:
            self.data_vals, self.data_s = {}, 0
        defines = {k: v for k, v in self.data_vals.items() if k.startswith("n_")}
        done_setup = set()
        self.failed = {}
        raw = {}  # (scenario, phase, variant) -> list of measurement results
        for i, step in enumerate(steps):
            try:
                self.step(steps, i, done_setup, raw, defines)
            except (PgError, OSError, ValueError, KeyError) as e:
                sc = step[1]
                self.failed[sc["name"]] = str(e)
                self.notes.append(f"{sc['name']}: FAILED, rest of the scenario skipped: {e}")
                log(f"[bench]   ERROR in {sc['name']}: {e}")
                try:
                    self.aggregate(sc, raw)  # keep the phases that completed
                    self.run_sql_list(sc.get("teardown"), sc)
                except PgError:
                    pass

    def collect(self, sc, vname, ph):
        """The scenario's "collect": [{"metric": name, "sql": query}], run after each measurement
        (before "reset"); the query's first value becomes a metric of that measurement."""
        for c in sc.get("collect") or []:
            try:
                rows = psql(c["sql"].strip().rstrip(";") + ";", db=sc["database"])
            except PgError as e:
                self.notes.append(f"{sc['name']}/{ph['name']}/{vname}: collect {c['metric']} failed: {e}")
                continue
            if rows and rows[0] and rows[0][0] != "":
                self.add(sc["name"], vname, ph["name"], "*", c["metric"], float(rows[0][0]))

    def step(self, steps, i, done_setup, raw, defines):
        kind, sc, ph, vname, rep = steps[i]
        name = sc["name"]
        if name in self.failed:
            return
        if name not in done_setup:
            done_setup.add(name)
            self.setup(sc)
        left = self.estimate(steps[i:])
        if kind == "external":
            log(f"[bench] {i + 1}/{len(steps)} {name} · external · ~{fmt_secs(left)} left")
            self.run_external(sc)
        elif kind == "explain":
            log(f"[bench] {i + 1}/{len(steps)} {name} · phase {ph['name']} · variant {vname} · "
                f"EXPLAIN ANALYZE · ~{fmt_secs(left)} left")
            v = sc["active_variants"][vname]
            t0 = time.time()
            try:
                self.run_sql_list(v.get("before"), sc)
                for k, val in explain_loops(sc, ph, v, defines).items():
                    self.add(name, vname, ph["name"], "*", k, val)
                self.run_sql_list(v.get("after"), sc)
            except PgError as e:
                self.notes.append(f"{name}/{ph['name']}/{vname}: EXPLAIN failed: {e}")
            self.explain_s = 0.5 * self.explain_s + 0.5 * (time.time() - t0)
        else:
            dur = self.phase_duration(sc, ph)
            log(f"[bench] {i + 1}/{len(steps)} {name} · phase {ph['name']} · variant {vname} "
                f"(rep {rep}/{sc['reps_n']}, {dur}s) · ~{fmt_secs(left)} left")
            v = sc["active_variants"][vname]
            t0 = time.time()
            self.run_sql_list(v.get("before"), sc)
            res = run_measurement(sc, ph, v, dur, self.tmpdir,
                                  f"{name}_{ph['name']}_{vname}_{rep}", defines, self.pm)
            self.run_sql_list(v.get("after"), sc)
            self.collect(sc, vname, ph)
            self.run_sql_list(sc.get("reset"), sc)
            for f in res["failures"]:
                self.notes.append(f"{name}/{ph['name']}/{vname} rep {rep}: {f}")
                log(f"[bench]   WARNING {f}")
            raw.setdefault((name, ph["name"], vname), []).append(res)
            spent = time.time() - t0 - dur
            self.overhead = 0.7 * self.overhead + 0.3 * max(0.0, spent)
        # after the scenario's last step
        if i + 1 == len(steps) or steps[i + 1][1] is not sc:
            if sc["kind"] != "external":
                self.aggregate(sc, raw)
                self.run_sql_list(sc.get("teardown"), sc)

    def run_sql_list(self, sqls, sc):
        for s in sqls or []:
            if isinstance(s, dict) and "pgbench_init" in s:
                scale = s["pgbench_init"] or self.cfg["tpcb_scale"]
                t = time.time()
                log(f"[data] pgbench -i -s {scale} in database {sc['database']} ...")
                r = subprocess.run([PGBENCH, "-i", "-q", "-s", str(scale), sc["database"]],
                                   capture_output=True, text=True)
                if r.returncode:
                    raise PgError(f"pgbench -i failed: {r.stderr[-500:]}")
                log(f"[data] pgbench -i -s {scale} done in {time.time() - t:.1f}s")
            else:
                psql("SET client_min_messages = warning;\n" + s, db=sc["database"])

    def setup(self, sc):
        if sc["kind"] == "external":
            return
        self.run_sql_list(sc.get("setup"), sc)

    def run_external(self, sc):
        cmd = [os.path.join(ROOT, sc["command"])] + list(sc.get("args") or [])
        t = time.time()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=sc.get("timeout_s", 900))
            out, rc = (r.stdout + r.stderr), r.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = f"timed out after {e.timeout}s", 124
        self.add(sc["name"], "-", "-", "-", "exit_code", rc)
        self.add(sc["name"], "-", "-", "-", "wall_s", time.time() - t)
        # Figures the command reports as "METRIC <variant> <metric> <number>" lines.
        for line in out.splitlines():
            m = re.match(r"^METRIC (\S+) (\S+) (-?[0-9.]+(?:e-?[0-9]+)?)$", line.strip())
            if m:
                self.add(sc["name"], m.group(1), "-", "-", m.group(2), float(m.group(3)))
        self.externals[sc["name"]] = (" ".join(cmd), rc, out)

    def aggregate(self, sc, raw):
        name = sc["name"]
        for ph in sc["phases"]:
            actions = {a["name"]: a for a in ph["actions"]}
            per_variant = {}
            for vname in sc["active_variants"]:
                runs = raw.get((name, ph["name"], vname), [])
                if not runs:
                    continue
                total_txn = 0
                for aname, a in actions.items():
                    lat = sorted(x for r in runs for x in r["actions"][aname]["lat"])
                    qps = [len(r["actions"][aname]["lat"]) / r["actions"][aname]["duration"] for r in runs]
                    errors = sum(r["actions"][aname]["errors"] for r in runs)
                    total_txn += len(lat)
                    kw = {"clients": int(a.get("clients", 1)), "rate": a.get("rate")}
                    m = {"qps": sum(qps) / len(qps), "qps_min": min(qps), "qps_max": max(qps),
                         "txns": len(lat), "errors": errors, "reps": len(runs),
                         "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
                         "p99_ms": percentile(lat, 99),
                         "mean_ms": (sum(lat) / len(lat)) if lat else None}
                    for k, val in m.items():
                        self.add(name, vname, ph["name"], aname, k, val, **kw)
                    per_variant.setdefault(vname, {})[aname] = m
                cpu = sum(r["cpu_s"] for r in runs) / len(runs)
                wall = sum(r["wall_s"] for r in runs) / len(runs)
                agg = {"wall_s": wall, "cpu_s": cpu,
                       "cpu_ms_per_txn": (1000.0 * sum(r["cpu_s"] for r in runs) / total_txn) if total_txn else None,
                       "mem_peak_sum_rss_anon_kb": max(r["mem_peak_sum_rss_anon_kb"] for r in runs),
                       "mem_peak_rss_anon_kb": max(r["mem_peak_rss_anon_kb"] for r in runs),
                       "mem_peak_vmhwm_kb": max(r["mem_peak_vmhwm_kb"] for r in runs),
                       "workers_seen": max(r["workers_seen"] for r in runs)}
                primes = [r["prime_ms"] for r in runs if "prime_ms" in r]
                if primes:
                    agg["prime_ms"] = sum(primes) / len(primes)
                agg.update(shmem())
                for k, val in agg.items():
                    self.add(name, vname, ph["name"], "*", k, val)
                per_variant.setdefault(vname, {})["*"] = agg
            # ratios against stock (and against the scenario's "ratios_vs" variants), same phase, same run
            for bname in ["stock"] + list(sc.get("ratios_vs") or []):
                self.add_ratios(name, ph, actions, per_variant, bname)
        # ratios against other phases of the same variant, same run (phase key "compare_to_phase":
        # a phase name or a list of them): metrics qps_ratio_vs_phase_<phase>, p99_ratio_vs_phase_<phase>
        for ph in sc["phases"]:
            others = ph.get("compare_to_phase") or []
            for other in [others] if isinstance(others, str) else others:
                for vname in sc["active_variants"]:
                    for a in ph["actions"]:
                        kw = {"clients": int(a.get("clients", 1)), "rate": a.get("rate")}
                        for m in ("qps", "p99_ms"):
                            here = self.val(name, vname, ph["name"], a["name"], m)
                            there = self.val(name, vname, other, a["name"], m)
                            if here and there:
                                self.add(name, vname, ph["name"], a["name"],
                                         f"{m.split('_')[0]}_ratio_vs_phase_{other}", here / there, **kw)

    def add_ratios(self, name, ph, actions, per_variant, bname):
        """Every variant's figures over variant bname's, same phase: metrics <x>_ratio_vs_<bname>."""
        base = per_variant.get(bname)
        if not base:
            return
        for vname, acts in per_variant.items():
            if vname == bname:
                continue
            for aname, m in acts.items():
                b = base.get(aname, {})
                a = actions.get(aname, {})
                kw = {"clients": int(a.get("clients", 1)), "rate": a.get("rate")} if a else {}
                for metric, key in (("qps_ratio", "qps"), ("p99_ratio", "p99_ms"), ("cpu_ratio", "cpu_s"),
                                    ("cpu_per_txn_ratio", "cpu_ms_per_txn"),
                                    ("mem_ratio", "mem_peak_sum_rss_anon_kb")):
                    if m.get(key) and b.get(key):
                        self.add(name, vname, ph["name"], aname, f"{metric}_vs_{bname}", m[key] / b[key],
                                 **(kw if key in ("qps", "p99_ms") else {}))

    def other_ratios(self):
        """Lines for the ratios that the table's qps/stock and cpu/stock columns do not show."""
        out = []
        for r in self.rows:
            if "_ratio_vs_" in r["metric"] and not r["metric"].endswith("_vs_stock") \
                    and r["metric"].split("_ratio_vs_")[0] in ("qps", "p99", "cpu_per_txn") \
                    and not (r["variant"] == "stock" and "_ratio_vs_phase_" not in r["metric"]):
                out.append(f"{r['scenario']}/{r['phase']}/{r['action']}/{r['variant']}: "
                           f"{r['metric']} = {r['value']:.3f}")
        return out

    # ---- guarantees
    def check_guarantees(self, scenarios):
        for sc in scenarios:
            whole = [r for s, v, r in self.skipped if s == sc["name"] and not v]
            if self.args.scenario and sc["name"] not in self.args.scenario:
                continue
            for g in sc.get("guarantees") or []:
                # a guarantee about one version's stock behaviour ("pg_min": 18, "pg_max": 17)
                if not g.get("pg_min", 0) <= self.pg_major <= g.get("pg_max", 999):
                    rng = (f"{g['pg_min']} and later" if "pg_max" not in g else
                           f"{g['pg_max']} and earlier" if "pg_min" not in g else f"{g['pg_min']}-{g['pg_max']}")
                    self.guarantees.append((sc["name"], f"{g['metric']} ({g.get('phase', '*')}/"
                                            f"{g.get('action', '*')}/{g.get('variant', '*')}): applies to "
                                            f"PostgreSQL {rng}, this is {self.pg_major}", None))
                    continue
                if whole or sc["name"] in self.failed:
                    why = f"scenario skipped: {whole[0]}" if whole else "scenario failed"
                    self.guarantees.append((sc["name"], f"{g['metric']} ({g.get('phase', '*')}/"
                                            f"{g.get('action', '*')}/{g.get('variant', '*')}): {why}", None))
                    continue
                hits = [r for r in self.rows if r["scenario"] == sc["name"] and r["metric"] == g["metric"]
                        and fnmatch.fnmatch(r["phase"], g.get("phase", "*"))
                        and fnmatch.fnmatch(r["action"], g.get("action", "*"))
                        and fnmatch.fnmatch(r["variant"], g.get("variant", "*"))]
                skipped_v = [v for s, v, _ in self.skipped if s == sc["name"] and v
                             and fnmatch.fnmatch(v, g.get("variant", "*"))]
                if not hits and skipped_v:
                    self.guarantees.append((sc["name"], f"{g['metric']} ({g.get('phase', '*')}/"
                                            f"{g.get('action', '*')}/{g.get('variant', '*')}): variant "
                                            f"{', '.join(skipped_v)} skipped", None))
                    continue
                if not hits:
                    self.guarantees.append((sc["name"], f"{g['metric']} ({g.get('phase', '*')}/"
                                            f"{g.get('action', '*')}/{g.get('variant', '*')}): no measurement", None))
                    continue
                for r in hits:
                    ok = True
                    cond = []
                    if "min" in g:
                        ok &= r["value"] >= g["min"]
                        cond.append(f">= {g['min']}")
                    if "max" in g:
                        ok &= r["value"] <= g["max"]
                        cond.append(f"<= {g['max']}")
                    text = (f"{r['phase']}/{r['action']}/{r['variant']}: {g['metric']} = {r['value']:.3f} "
                            f"(want {' and '.join(cond)})")
                    self.guarantees.append((sc["name"], text, ok))
                    self.add(sc["name"], r["variant"], r["phase"], r["action"],
                             f"guarantee:{g['metric']}{' '.join(cond)}", 1 if ok else 0)

    # ---- storage and comparison
    def store(self, settings):
        con = sqlite3.connect(DB_FILE)
        con.executescript("""
            CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT, git_commit TEXT,
                                             settings TEXT, mode TEXT);
            CREATE TABLE IF NOT EXISTS measurements (run_id TEXT REFERENCES runs, scenario TEXT,
                variant TEXT, phase TEXT, action TEXT, clients INTEGER, rate REAL, metric TEXT, value REAL);
            CREATE INDEX IF NOT EXISTS measurements_run ON measurements (run_id, scenario);
        """)
        # per scenario, the latest earlier run of the same mode, scale factor and PostgreSQL major
        # version that measured it (a --sf override or another --pg is another series; a
        # --scenario subset run does not hide the others; runs before pg_major was stored were 15)
        same = []
        for rid, st in con.execute("SELECT run_id, settings FROM runs WHERE mode = ? AND run_id <> ? "
                                   "ORDER BY started DESC", (self.mode, self.run_id)):
            try:
                prev_settings = json.loads(st)
                if (prev_settings.get("sf") == settings["sf"]
                        and prev_settings.get("pg_major", 15) == settings["pg_major"]):
                    same.append(rid)
            except (TypeError, ValueError):
                continue
        prev_vals, prev_of = {}, {}
        scenarios_here = {r["scenario"] for r in self.rows}
        for rid in same:
            if scenarios_here <= set(prev_of):
                break
            for sc, v, ph, a, m, val in con.execute(
                    "SELECT scenario, variant, phase, action, metric, value FROM measurements "
                    "WHERE run_id = ? AND metric NOT IN ('skipped')", (rid,)):
                if sc in scenarios_here and prev_of.setdefault(sc, rid) == rid:
                    prev_vals[(sc, v, ph, a, m)] = val
        prev = tuple(sorted(set(prev_of.values()), reverse=True)) or None
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?)",
                    (self.run_id, self.started, self.git_commit, json.dumps(settings), self.mode))
        con.executemany("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?,?)",
                        [(self.run_id, r["scenario"], r["variant"], r["phase"], r["action"], r["clients"],
                          r["rate"], r["metric"], r["value"]) for r in self.rows])
        con.commit()
        con.close()
        self.prev_run = ", ".join(prev) if prev else None
        self.prev_of = prev_of
        self.regressions = []
        self.prev_delta = {}
        for r in self.rows:
            d = DIRECTION.get(r["metric"])
            key = (r["scenario"], r["variant"], r["phase"], r["action"], r["metric"])
            if not d or key not in prev_vals or not prev_vals[key]:
                continue
            change = (r["value"] - prev_vals[key]) / prev_vals[key]
            self.prev_delta[key] = change
            if d * change < -0.10:
                self.regressions.append(f"{'/'.join(str(k) for k in key[:4])} {r['metric']}: "
                                        f"{prev_vals[key]:.2f} -> {r['value']:.2f} ({change:+.0%})")

    # ---- output
    def val(self, sc, v, ph, a, m):
        for r in self.rows:
            if (r["scenario"], r["variant"], r["phase"], r["action"], r["metric"]) == (sc, v, ph, a, m):
                return r["value"]
        return None

    def table(self):
        hdr = ["scenario", "phase", "action", "variant", "load", "txns", "qps", "p50 ms", "p95 ms", "p99 ms",
               "qps/stock", "cpu ms/txn", "cpu/stock", "peak MB", "mat loops", "vs prev qps"]
        lines = []
        seen = []
        for r in self.rows:
            k = (r["scenario"], r["phase"], r["action"], r["variant"])
            if r["metric"] == "qps" and k not in seen:
                seen.append(k)
        for sc, ph, a, v in seen:
            clients = next((r["clients"] for r in self.rows if (r["scenario"], r["phase"], r["action"],
                            r["variant"], r["metric"]) == (sc, ph, a, v, "qps")), None)
            rate = next((r["rate"] for r in self.rows if (r["scenario"], r["phase"], r["action"],
                         r["variant"], r["metric"]) == (sc, ph, a, v, "qps")), None)
            load = f"-R {rate:g}" if rate else f"-c {clients}"
            f = lambda x, p=1: "" if x is None else f"{x:.{p}f}"
            ratio = self.val(sc, v, ph, a, "qps_ratio_vs_stock")
            mem = self.val(sc, v, ph, "*", "mem_peak_sum_rss_anon_kb")
            loops = self.val(sc, v, ph, "*", "material_child_loops")
            delta = self.prev_delta.get((sc, v, ph, a, "qps"))
            dtxt = "" if delta is None else f"{delta:+.0%}" + (" REGRESSION" if delta < -0.10 else "")
            lines.append([sc, ph, a, v, load, f(self.val(sc, v, ph, a, "txns"), 0),
                          f(self.val(sc, v, ph, a, "qps"), 2), f(self.val(sc, v, ph, a, "p50_ms")),
                          f(self.val(sc, v, ph, a, "p95_ms")), f(self.val(sc, v, ph, a, "p99_ms")),
                          f(ratio, 3), f(self.val(sc, v, ph, "*", "cpu_ms_per_txn"), 2),
                          f(self.val(sc, v, ph, "*", "cpu_per_txn_ratio_vs_stock"), 3),
                          f(mem / 1024 if mem else None), f(loops, 0), dtxt])
        return hdr, lines

    @staticmethod
    def render(hdr, lines, md=False):
        if md:
            out = ["| " + " | ".join(hdr) + " |", "|" + "|".join("---" for _ in hdr) + "|"]
            out += ["| " + " | ".join(l) + " |" for l in lines]
            return "\n".join(out)
        w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(hdr)]
        out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)), "  ".join("-" * x for x in w)]
        out += ["  ".join(c.ljust(w[i]) for i, c in enumerate(l)) for l in lines]
        return "\n".join(out)


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    c = r.stdout.strip() or "unknown"
    d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
    c += "-dirty" if d else ""
    # benchmarks/before_after.sh measures another commit's installed extension with this harness
    ext = os.environ.get("PM_BENCH_EXTENSION_COMMIT")
    return f"{c} (extension {ext})" if ext else c


def main():
    ap = argparse.ArgumentParser(description="parallel_material benchmark runner (use benchmarks/run)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    ap.add_argument("--scenario", action="append", default=[])
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--sf", type=float)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--duration-scale", type=float, default=1.0)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep-logs", action="store_true", help="keep pgbench's per-transaction logs")
    args = ap.parse_args()
    if args.list:
        for sc in load_scenarios("full" if args.full else "quick"):
            print(f"{sc['name']:18s} {sc.get('description', '')}")
        return 0
    runner = Runner(args)
    runner.started = datetime.datetime.now().isoformat(timespec="seconds")
    runner.git_commit = git_commit()
    t0 = time.time()
    scenarios = load_scenarios(runner.mode)
    todo = runner.plan(scenarios)
    for name, v, reason in runner.skipped:
        log(f"[bench] skipped: {name}{'/' + v if v else ''}: {reason}")
    for name, v, reason in runner.skipped:
        runner.add(name, v or "*", "-", "-", "skipped", 1)
    runner.execute(todo)
    runner.check_guarantees(scenarios)
    ver = psql("SELECT version()")[0][0]
    pg_major = runner.pg_major
    client = subprocess.run([PSQL, "--version"], capture_output=True, text=True).stdout.strip()
    ext = psql("SELECT parallel_material.version()", db="bench", check=False)
    # Issue 15: the server's settings that are not PostgreSQL's defaults (from the configuration
    # files; connection plumbing and what initdb writes included), listed in the output and the report.
    nondefault = [f"{n} = {v}" for n, v in psql(
        "SELECT name, current_setting(name) FROM pg_settings "
        "WHERE source IN ('configuration file', 'command line', 'environment variable') ORDER BY name")]
    settings = {"mode": runner.mode, "sf": runner.cfg["sf"], "seed": args.seed, "reps": runner.cfg["reps"],
                "duration_scale": args.duration_scale, "scenarios": args.scenario or "all",
                "postgres": ver, "pg_major": pg_major, "client": client,
                "extension_version": ext[0][0] if ext else None,
                "data_load_s": round(runner.data_s, 1), "nproc": os.cpu_count(),
                "nondefault_settings": nondefault,
                "skipped": [{"scenario": s, "variant": v, "reason": r} for s, v, r in runner.skipped]}
    runner.store(settings)
    runner.elapsed = time.time() - t0
    hdr, lines = runner.table()
    print()
    print(f"parallel_material benchmarks — run {runner.run_id} ({runner.mode}, SF {runner.cfg['sf']}, "
          f"PostgreSQL {pg_major}, commit {runner.git_commit})")
    print(Runner.render(hdr, lines))
    print()
    print("server settings not at PostgreSQL's default (docs/benchmarks.md, \"Settings\"): " + "; ".join(nondefault))
    print()
    for line in runner.other_ratios():
        print(f"RATIO {line}")
    for name, v, reason in runner.skipped:
        print(f"SKIPPED {name}{' variant ' + v if v else ''}: {reason}")
    for name, (cmd, rc, out) in runner.externals.items():
        print(f"{name}: `{cmd}` exit {rc}")
    fails = 0
    for name, text, ok in runner.guarantees:
        status = "PASS" if ok else ("FAIL" if ok is False else "SKIP")
        fails += ok is False
        print(f"{status} {name}: {text}")
    if runner.prev_run:
        if runner.regressions:
            shown = [r for r in runner.regressions if " qps:" in r or " p99_ms:" in r]
            print(f"REGRESSIONS vs previous {runner.mode} run {runner.prev_run} (>10% worse; "
                  f"{len(runner.regressions)} in all, QPS and p99 shown, the rest in the report):")
            for r in shown:
                print(f"  REGRESSION {r}")
        else:
            print(f"no regression >10% vs previous {runner.mode} run {runner.prev_run}")
    else:
        print(f"no previous {runner.mode} run stored: nothing to compare")
    for n in runner.notes:
        print(f"NOTE {n}")
    import report
    path = report.write(runner, settings, hdr, lines, scenarios)
    print(f"report: {os.path.relpath(path, ROOT)} (and benchmarks/report/latest.md); "
          f"results: benchmarks/results.sqlite run_id {runner.run_id}; took {fmt_secs(runner.elapsed)}")
    if args.keep_logs:
        print(f"pgbench logs kept in {runner.tmpdir}")
    else:
        shutil.rmtree(runner.tmpdir, ignore_errors=True)
    if args.strict and (fails or any(r["metric"] == "errors" and r["value"] > 0 for r in runner.rows)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
