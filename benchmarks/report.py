"""benchmarks/report.py — writes benchmarks/report/<run_id>/summary.md, its PNG plots and the
stable copy benchmarks/report/latest.md (image links rewritten to point into the run's folder)."""
import fnmatch
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"stock": "#7f7f7f", "extension": "#1f77b4", "arrangement": "#2ca02c"}


def _color(v, i):
    return COLORS.get(v, f"C{i + 2}")


def _vals(runner, sc, metric, action=None):
    """{(phase, action): {variant: value}} in measurement order."""
    out = {}
    for r in runner.rows:
        if r["scenario"] == sc and r["metric"] == metric and (action is None or r["action"] == action):
            out.setdefault((r["phase"], r["action"]), {})[r["variant"]] = r
    return out


def bars(runner, sc, d):
    """Grouped bars of QPS (with min..max over repetitions) and p99 per phase/action and variant."""
    qps = _vals(runner, sc, "qps")
    if not qps:
        return None
    keys = list(qps)
    variants = []
    for k in keys:
        for v in qps[k]:
            if v not in variants:
                variants.append(v)
    p99 = _vals(runner, sc, "p99_ms")
    qmin = _vals(runner, sc, "qps_min")
    qmax = _vals(runner, sc, "qps_max")
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.4 * len(keys) + 4), 4.2))
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(keys))]
        ys = [qps[k].get(v, {}).get("value", 0) for k in keys]
        lo = [max(0, y - qmin.get(k, {}).get(v, {}).get("value", y)) for k, y in zip(keys, ys)]
        hi = [max(0, qmax.get(k, {}).get(v, {}).get("value", y) - y) for k, y in zip(keys, ys)]
        axes[0].bar(xs, ys, width, label=v, color=_color(v, i), yerr=[lo, hi], capsize=2)
        axes[1].bar(xs, [p99.get(k, {}).get(v, {}).get("value", 0) for k in keys], width, label=v,
                    color=_color(v, i))
    labels = [f"{p}\n{a}" for p, a in keys]
    for ax, title in ((axes[0], "QPS (bars: mean, whiskers: min..max over reps)"), (axes[1], "p99 latency (ms)")):
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{sc} ({runner.mode}, run {runner.run_id})", fontsize=10)
    fig.tight_layout()
    name = f"{sc}_qps_p99.png"
    fig.savefig(os.path.join(d, name), dpi=90)
    plt.close(fig)
    return name


def lines(runner, sc, spec, d, idx):
    """Line plot: x = the phase's matrix value (clients, workers...), one line per variant."""
    xlabel, metrics = spec["x"], spec["metrics"]
    action = spec.get("action")
    phase_x = {}
    for ph in sc["phases"]:
        if "matrix_value" in ph and fnmatch.fnmatch(ph["name"], spec.get("phases", "*")):
            phase_x[ph["name"]] = ph["matrix_value"]
    if not phase_x:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.8))
    if len(metrics) == 1:
        axes = [axes]
    any_data = False
    for ax, m in zip(axes, metrics):
        series = {}
        for r in runner.rows:
            if (r["scenario"] == sc["name"] and r["metric"] == m and r["phase"] in phase_x
                    and (action is None or r["action"] == action)):
                series.setdefault(r["variant"], []).append((phase_x[r["phase"]], r["value"]))
        for i, (v, pts) in enumerate(series.items()):
            pts.sort()
            scale = 1 / 1024 if m.endswith("_kb") else 1
            # stock dashed with big hollow markers, so identical series stay visible on top of each other
            style = dict(linestyle="--", marker="o", markersize=9, markerfacecolor="none") if v == "stock" \
                else dict(linestyle="-", marker=".", markersize=7)
            ax.plot([p[0] for p in pts], [p[1] * scale for p in pts], label=v, color=_color(v, i), **style)
            any_data = True
        ax.set_xlabel(xlabel)
        ax.set_title(m.replace("_kb", " (MiB)"), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{sc['name']}: {spec.get('title', '')}", fontsize=10)
    fig.tight_layout()
    name = f"{sc['name']}_{idx}.png"
    if any_data:
        fig.savefig(os.path.join(d, name), dpi=90)
    plt.close(fig)
    return name if any_data else None


def write(runner, settings, hdr, table_lines, scenarios):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report", runner.run_id)
    os.makedirs(d, exist_ok=True)
    md = [f"# parallel_material benchmarks — run {runner.run_id}", "",
          f"- mode: **{runner.mode}**, TPC-H-shaped scale factor {settings['sf']}, seed {settings['seed']}, "
          f"{settings['reps']} repetition(s) per variant by default, interleaved A B A B",
          f"- commit {runner.git_commit}, {settings['postgres']}, extension {settings['extension_version']}"
          f"; client programs: {settings.get('client', '?')}",
          f"- data load {settings['data_load_s']} s; benchmark took {runner.elapsed:.0f} s on "
          f"{settings['nproc']} CPU(s)",
          f"- previous {runner.mode} run compared: {runner.prev_run or 'none'}",
          "- server settings not at PostgreSQL's default (docs/benchmarks.md, \"Settings\"): "
          + ("; ".join(f"`{x}`" for x in settings.get("nondefault_settings", [])) or "none"), "",
          "Latency percentiles are over every transaction of every repetition (pgbench -l logs, µs → ms). "
          "QPS is the mean over repetitions. `qps/stock` is the variant's QPS over stock's in the same "
          "phase of this run. `cpu ms/txn` is CPU time of all cluster processes (backends, parallel workers, "
          "background processes), from /proc, per transaction of the phase (all its actions); `cpu/stock` "
          "its ratio to stock's. On a shared machine CPU per transaction is steadier than wall-clock "
          "figures, which include waiting for a core. `peak MB` is the largest sum of "
          "RssAnon over client backends and parallel workers seen by a 100 ms sampler. `mat loops` is "
          "how many times the child of the Materialize node(s) ran in one EXPLAIN ANALYZE of the phase's "
          "query.", "", "## Results", "", runner.render(hdr, table_lines, md=True), ""]
    ratios = runner.other_ratios()
    if ratios:
        md += ["Other ratios (against the variant or phase named in the metric, same run):", ""]
        md += [f"- {r}" for r in ratios] + [""]
    md += ["## Guarantees", ""]
    if runner.guarantees:
        for name, text, ok in runner.guarantees:
            md.append(f"- **{'PASS' if ok else ('FAIL' if ok is False else 'SKIP')}** {name}: {text}")
    else:
        md.append("- none evaluated")
    md += ["", "## Regressions (>10% worse than the previous run of the same mode)", ""]
    if not runner.prev_run:
        md.append("- no previous run stored")
    elif runner.regressions:
        md += [f"- REGRESSION {r}" for r in runner.regressions]
    else:
        md.append("- none")
    md += ["", "## Skipped", ""]
    md += [f"- {s}{' variant ' + v if v else ''}: {r}" for s, v, r in runner.skipped] or ["- none"]
    if runner.notes:
        md += ["", "## Notes", ""] + [f"- {n}" for n in runner.notes]
    # resource metrics per phase
    res_metrics = ["wall_s", "cpu_s", "cpu_ms_per_txn", "prime_ms", "mem_peak_sum_rss_anon_kb", "mem_peak_rss_anon_kb",
                   "mem_peak_vmhwm_kb", "workers_seen", "explain_ms", "material_nodes", "material_child_loops",
                   "material_leaf_rows", "parallel_nestloop_materials", "parallel_material_nodes", "workers_launched", "pm_materializations", "pm_peak_memory_kb", "pm_pages_spilled",
                   "shmem_total_bytes", "shmem_ext_bytes"]
    rows = {}
    for r in runner.rows:
        if r["action"] == "*" and r["metric"] in res_metrics:
            rows.setdefault((r["scenario"], r["phase"], r["variant"]), {})[r["metric"]] = r["value"]
    if rows:
        md += ["", "## Resources per phase and variant", "",
               "| scenario | phase | variant | " + " | ".join(res_metrics) + " |",
               "|" + "---|" * (3 + len(res_metrics))]
        for (s, p, v), m in rows.items():
            md.append(f"| {s} | {p} | {v} | " + " | ".join(
                "" if m.get(k) is None else (f"{m[k]:,.0f}" if abs(m[k]) >= 1000 else f"{m[k]:.4g}")
                for k in res_metrics) + " |")
    md += ["", "## Plots", ""]
    for sc in scenarios:
        if sc["kind"] == "external" or not any(r["scenario"] == sc["name"] and r["metric"] == "qps"
                                               for r in runner.rows):
            continue
        md += [f"### {sc['name']}", "", sc.get("description", ""), ""]
        b = bars(runner, sc["name"], d)
        if b:
            md.append(f"![{sc['name']} QPS and p99]({b})")
        for i, spec in enumerate(sc.get("plots") or []):
            p = lines(runner, sc, spec, d, i)
            if p:
                md.append(f"![{sc['name']} {spec.get('title', '')}]({p})")
        md.append("")
    for name, (cmd, rc, out) in runner.externals.items():
        md += [f"### {name}", "", f"`{cmd}` exited {rc}; last lines of its output:", "", "```",
               "\n".join(out.strip().splitlines()[-60:]), "```", ""]
    text = "\n".join(md) + "\n"
    path = os.path.join(d, "summary.md")
    with open(path, "w") as f:
        f.write(text)
    latest = re.sub(r"\]\(([^)/]+\.png)\)", lambda m: f"]({runner.run_id}/{m.group(1)})", text)
    with open(os.path.join(os.path.dirname(d), "latest.md"), "w") as f:
        f.write(latest)
    return path
