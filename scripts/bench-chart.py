#!/usr/bin/env python3
"""TPS by client count, per workload, for direct PostgreSQL, PgBouncer and Usher, from the JSON that
../shared/bench/compare writes with --out. One PNG with a panel per workload (log-scale x axis).

    scripts/bench-chart.py /tmp/full.json docs/benchmarks-tps.png

Needs matplotlib (Debian: apt-get install python3-matplotlib).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"direct": "PostgreSQL direct", "reference": "PgBouncer", "candidate": "Usher"}
STYLE = {"direct": ("#888888", "o", ":"), "reference": ("#1f77b4", "s", "-"), "candidate": ("#d62728", "^", "-")}


def main(src, dst):
    data = json.load(open(src))
    by_workload = {}
    for cell in data["cells"]:
        for target, figures in cell["targets"].items():
            if figures.get("tps"):
                by_workload.setdefault(cell["workload"], {}).setdefault(target, []).append((cell["clients"], figures["tps"]))
    workloads = [w for w in data["config"]["workloads"] if w in by_workload]
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.8), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        for target in ("direct", "reference", "candidate"):
            points = sorted(by_workload[workload].get(target, []))
            if not points:
                continue
            color, marker, line = STYLE[target]
            ax.plot([c for c, _ in points], [t for _, t in points], color=color, marker=marker, linestyle=line,
                    label=LABELS[target])
        ax.set_xscale("log")
        ax.set_xticks(sorted({c for pts in by_workload[workload].values() for c, _ in pts}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_ylim(bottom=0)
        ax.set_title(workload)
        ax.set_xlabel("pgbench clients")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("transactions per second (median of rounds)")
    axes[0][-1].legend(loc="lower right", fontsize="small")
    machine = data.get("machine", {})
    fig.suptitle("%s, %s UTC, %s CPUs, pool_mode=%s, default_pool_size=%s" % (
        "TPS by client count", data.get("started_at", "")[:16].replace("T", " "), machine.get("cpus", "?"),
        data["config"].get("pool_mode"), data["config"].get("pool_size")), fontsize="medium")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print("wrote", dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
