#!/usr/bin/env python3
"""arrangement_ab.py — two builds of the extension A/B on the arrangement hot paths, interleaved in
the same minutes: repeated TPC-H Q3 through arrangements (q3_repeated's query, arrangements and
settings) at 1 and 4 clients, stock Q3 (enable off) on the same clusters, and single-row INSERTs
into orders with an arrangement on o_custkey in place of the btree (insert_cost's `arrangement`
variant). Each build gets its own private cluster (benchmarks/run's settings, its own PM_PG_ROOT
install), both loaded with the same TPC-H-shaped data (SF 0.05 by default); then for each round
every measurement runs on one cluster and then on the other, the order alternating per round.
Per measurement: tps, CPU ms per transaction of the cluster's processes, and of pgbench itself.
Prints every measurement, then per figure the median B/A ratio over rounds with its min..max.

Usage (root, from the checkout; each root must hold an installed build, `make install
DESTDIR=<root>` as benchmarks/run --no-install expects):
  benchmarks/arrangement_ab.py --a /work/pgroot/oldmain --b /work/pgroot/arr-perf \
      [--rounds 4] [--secs 10] [--only q3,insert,stock,stockw0] [--sf 0.05] [--waits] [--keep]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SETTINGS = ["shared_buffers = 1GB", "parallel_material.arrangement_memory = 2GB",
            "parallel_material.arrangement_memory_per_role = 0", "jit = off", "max_wal_size = 8GB",
            "checkpoint_timeout = 1h", "max_connections = 100", "log_min_messages = warning"]
Q3_ARR = ["SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', "
          "'{o_orderkey, o_orderdate, o_shippriority}')",
          "SELECT parallel_material.create_arrangement('lineitem'::regclass, '{l_orderkey}', "
          "'{l_extendedprice, l_discount, l_shipdate}')"]
INS_ARR = ["DROP INDEX IF EXISTS orders_o_custkey",
           "SELECT parallel_material.create_arrangement('orders'::regclass, '{o_custkey}', '{*}')"]
INS_RESET = "DELETE FROM orders WHERE o_orderkey >= 1000000000; VACUUM (ANALYZE) orders;"
ON = "-c parallel_material.enable=on -c parallel_material.enable_arrangement_join=on"
OFF = "-c parallel_material.enable=off -c parallel_material.enable_arrangement_join=off"


def start_cluster(label, pg_root):
    """A private cluster of the build installed under pg_root (tools/lib.sh's pm_cluster_start)."""
    cmd = (f'export PM_PG_ROOT={pg_root}; source "{ROOT}/tools/lib.sh"; pm_check_pg_config; '
           f'pm_cluster_start ab_{label} ' + " ".join(f'"{s}"' for s in SETTINGS) +
           '; echo "$PGPORT $PM_BINDIR $PM_CLUSTER_DIR"')
    out = subprocess.run(["bash", "-c", cmd], check=True, capture_output=True, text=True).stdout
    port, bindir, cdir = out.split()[-3:]
    return {"label": label, "port": port, "bindir": bindir, "dir": cdir}


def stop_cluster(c):
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(c["bindir"], "pg_ctl"), "-D",
                    os.path.join(c["dir"], "data"), "stop", "-m", "fast", "-w"], capture_output=True)


def env_of(c, options=""):
    return dict(os.environ, PGHOST="127.0.0.1", PGPORT=c["port"], PGUSER="postgres",
                PM_BINDIR=c["bindir"], PM_CLUSTER_DIR=c["dir"], PGOPTIONS=options)


def psql(c, sql, db="postgres"):
    r = subprocess.run([os.path.join(c["bindir"], "psql"), "-X", "-q", "-A", "-t", "-v",
                        "ON_ERROR_STOP=1", "-d", db], input=sql, text=True, capture_output=True,
                       env=env_of(c))
    if r.returncode != 0:
        sys.exit(f"psql on {c['label']}/{db} failed: {r.stderr[-500:]}")
    return r.stdout.strip()


def load(c, db, sf, seed):
    """benchmarks/data/tpch.sql through bench.py's loader, into database db of cluster c."""
    os.environ.update(env_of(c))
    os.environ["PM_BINDIR"] = c["bindir"]
    sys.path.insert(0, HERE)
    import bench  # noqa: E402  (reads PM_BINDIR at import; psql is the same binary in every root)
    psql(c, f'CREATE DATABASE "{db}"')
    real_ensure = bench.ensure_db
    bench.ensure_db = lambda name: bench.psql("CREATE EXTENSION IF NOT EXISTS parallel_material", db=name)
    text = open(os.path.join(HERE, "data", "tpch.sql")).read()
    import re
    parts = re.split(r"^-- @step (\w+)\s*$", text, flags=re.M)
    vals = {"sf": sf, "seed": seed, "n_customer": max(1, int(150000 * sf)),
            "n_orders": max(1, int(1500000 * sf)), "n_part": max(1, int(200000 * sf)),
            "n_supplier": max(4, int(10000 * sf))}
    bench.ensure_db(db)
    for name, body in zip(parts[1::2], parts[2::2]):
        for k, v in vals.items():
            body = body.replace("{" + k + "}", str(v))
        bench.psql("SET client_min_messages = warning;\n" + body, db=db)
    bench.ensure_db = real_ensure
    return vals


def cpu_total(c):
    sys.path.insert(0, HERE)
    import bench
    with open(os.path.join(c["dir"], "data", "postmaster.pid")) as f:
        pm = int(f.readline())
    bench.wait_quiet(pm)
    return bench.cpu_total(pm)


def machine_ticks():
    """(busy, total) jiffies of the whole machine, every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    return sum(v[:8]) - idle, sum(v[:8])


WAITS_SQL = ("SELECT coalesce(wait_event_type || ':' || wait_event, 'running') || '/' || state "
             "FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname <> 'postgres'")


def pgbench(c, db, script, clients, secs, options, defines=(), waits=False):
    """One closed-loop pgbench measurement. Besides tps: CPU ms per transaction of the cluster's
    processes and of pgbench; the cores each used on average (CPU seconds / wall seconds); the
    machine's busy cores in the same seconds (every process, other tenants included); and with
    waits, what the client backends were doing in samples every 100 ms (pg_stat_activity)."""
    pm_cpu0 = cpu_total(c)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, tot0 = machine_ticks()
    t0 = time.time()
    args = [os.path.join(c["bindir"], "pgbench"), "-n", "-c", str(clients), "-j", str(clients),
            "-T", str(secs), "-f", os.path.join(HERE, "scripts", script)]
    for d in defines:
        args += ["-D", d]
    sampler = None
    if waits:
        sampler = subprocess.Popen([os.path.join(c["bindir"], "psql"), "-X", "-A", "-t", "-d", "postgres"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True, env=env_of(c))
        sampler.stdin.write(WAITS_SQL + " \\watch 0.1\n")
        sampler.stdin.flush()
    r = subprocess.run(args + [db], capture_output=True, text=True, env=env_of(c, options))
    wall = time.time() - t0
    samples = {}
    if sampler is not None:
        sampler.kill()
        out, _ = sampler.communicate()
        for line in out.splitlines():
            if "/" in line:
                samples[line.strip()] = samples.get(line.strip(), 0) + 1
    busy1, tot1 = machine_ticks()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    pm_cpu1 = cpu_total(c)
    txns = 0
    for line in r.stdout.splitlines():
        if line.startswith("number of transactions actually processed:"):
            txns = int(line.split(":")[1].split("/")[0])
    if r.returncode != 0 or txns == 0:
        sys.exit(f"pgbench failed on {c['label']}: {r.stderr[-800:]}")
    client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    ncpu = os.cpu_count()
    return {"tps": txns / secs, "cpu_ms": 1000 * (pm_cpu1 - pm_cpu0) / txns,
            "client_ms": 1000 * client_cpu / txns, "txns": txns,
            "cluster_cores": (pm_cpu1 - pm_cpu0) / wall, "client_cores": client_cpu / wall,
            "machine_cores": ncpu * (busy1 - busy0) / max(1, tot1 - tot0), "waits": samples}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="PM_PG_ROOT of build A (the baseline)")
    ap.add_argument("--b", required=True, help="PM_PG_ROOT of build B")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--sf", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only", default="q3,insert,stock")
    ap.add_argument("--keep", action="store_true", help="leave both clusters running (ports printed)")
    ap.add_argument("--waits", action="store_true", help="sample pg_stat_activity every 100 ms")
    args = ap.parse_args()
    want = set(args.only.split(","))
    clusters = [start_cluster("a", args.a), start_cluster("b", args.b)]
    try:
        vals = {}
        for c in clusters:
            if want & {"q3", "stock", "stockw0"}:
                vals = load(c, "q3", args.sf, args.seed)
                for s in Q3_ARR:
                    psql(c, s, db="q3")
            if "insert" in want:
                vals = load(c, "ins", args.sf, args.seed)
                for s in INS_ARR:
                    psql(c, s, db="ins")
        measures = []
        if "q3" in want:
            measures += [("q3_c1", "q3", "q3.sql", 1, ON), ("q3_c4", "q3", "q3.sql", 4, ON)]
        if "stock" in want:
            measures += [("stock_q3_c1", "q3", "q3.sql", 1, OFF), ("stock_q3_c4", "q3", "q3.sql", 4, OFF)]
        if "stockw0" in want:  # stock without parallel workers: as many processes as the extension's
            measures += [("stockw0_q3_c4", "q3", "q3.sql", 4, OFF + " -c max_parallel_workers_per_gather=0")]
        if "insert" in want:
            measures += [("insert_arr", "ins", "insert_order.sql", 1, "-c parallel_material.enable=on")]
        results = {}  # (figure, label) -> list per round
        for rnd in range(args.rounds):
            order = clusters if rnd % 2 == 0 else clusters[::-1]
            for name, db, script, clients, opts in measures:
                for c in order:
                    res = pgbench(c, db, script, clients, args.secs, opts,
                                  [f"n_customer={vals['n_customer']}"], args.waits)
                    if db == "ins":
                        psql(c, INS_RESET, db="ins")
                    results.setdefault((name, c["label"]), []).append(res)
                    print(f"round {rnd + 1} {name:12} {c['label']}: {res['tps']:9.1f} tps "
                          f"{res['cpu_ms']:7.3f} cluster-ms/txn {res['client_ms']:6.3f} pgbench-ms/txn; cores: "
                          f"cluster {res['cluster_cores']:.2f} pgbench {res['client_cores']:.2f} "
                          f"machine {res['machine_cores']:.2f}", flush=True)
                    if res["waits"]:
                        tot = sum(res["waits"].values())
                        print("      waits: " + ", ".join(f"{k} {100 * v / tot:.0f}%" for k, v in
                                                         sorted(res["waits"].items(), key=lambda kv: -kv[1])[:6]))
        if args.rounds == 0:
            return
        print("\nB/A per figure: median (min..max) over rounds")
        for name, *_ in measures:
            a, b = results[(name, "a")], results[(name, "b")]
            for key in ("tps", "cpu_ms"):
                r = [y[key] / x[key] for x, y in zip(a, b)]
                print(f"{name:12} {key:7} A {statistics.median(x[key] for x in a):9.3f} "
                      f"B {statistics.median(y[key] for y in b):9.3f}  B/A {statistics.median(r):.3f} "
                      f"({min(r):.3f}..{max(r):.3f})")
        if "stock" in want and "q3" in want:
            print("\nextension / stock Q3 on the same cluster, same round: median (min..max)")
            for lab in ("a", "b"):
                for cl in ("c1", "c4"):
                    e, s = results[(f"q3_{cl}", lab)], results[(f"stock_q3_{cl}", lab)]
                    q = [x["tps"] / y["tps"] for x, y in zip(e, s)]
                    u = [x["cpu_ms"] / y["cpu_ms"] for x, y in zip(e, s)]
                    k = [x["cluster_cores"] / y["cluster_cores"] for x, y in zip(e, s)]
                    print(f"{lab} {cl}: qps x{statistics.median(q):.2f} ({min(q):.2f}..{max(q):.2f}), "
                          f"cpu/query {statistics.median(u):.3f} ({min(u):.3f}..{max(u):.3f}), "
                          f"cluster cores ext/stock {statistics.median(k):.2f} ({min(k):.2f}..{max(k):.2f}); "
                          f"cores ext {statistics.median(x['cluster_cores'] for x in e):.2f} + pgbench "
                          f"{statistics.median(x['client_cores'] for x in e):.2f} of machine-busy "
                          f"{statistics.median(x['machine_cores'] for x in e):.2f}, stock "
                          f"{statistics.median(y['cluster_cores'] for y in s):.2f} of "
                          f"{statistics.median(y['machine_cores'] for y in s):.2f}")
        if "stockw0" in want and "q3" in want:
            print("\nextension / stock without parallel workers, 4 clients, same cluster and round")
            for lab in ("a", "b"):
                e, s = results[("q3_c4", lab)], results[("stockw0_q3_c4", lab)]
                q = [x["tps"] / y["tps"] for x, y in zip(e, s)]
                u = [x["cpu_ms"] / y["cpu_ms"] for x, y in zip(e, s)]
                k = [x["cluster_cores"] / y["cluster_cores"] for x, y in zip(e, s)]
                print(f"{lab} c4: qps x{statistics.median(q):.2f} ({min(q):.2f}..{max(q):.2f}), cpu/query "
                      f"{statistics.median(u):.3f} ({min(u):.3f}..{max(u):.3f}), cluster cores ext/stock "
                      f"{statistics.median(k):.2f} ({min(k):.2f}..{max(k):.2f})")
    finally:
        for c in clusters:
            if args.keep:
                print(f"kept: {c['label']} PGPORT={c['port']} PM_BINDIR={c['bindir']} dir={c['dir']}")
            else:
                stop_cluster(c)


if __name__ == "__main__":
    main()
