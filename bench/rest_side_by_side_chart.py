"""The chart of bench/rest_side_by_side.py: `python rest_side_by_side_chart.py RESULTS OUT.png`.

Runs with the bench's own virtualenv (bench/results/peer-venv, which has matplotlib), never
the project's. Four panels: orders/s per connection count (bars: medians, dots: rounds, the
venue/peer ratio above), closed-loop latency p50/p99, server CPU per order, and the venue's
open-loop p99 per rate.
"""

from __future__ import annotations

import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"venue": "#1f77b4", "peer": "#ff7f0e"}


def main(results_path: str, out_path: str) -> None:
    with open(results_path) as f:
        doc = json.load(f)
    runs = doc["runs"]
    summary = doc["summary"]
    conns = sorted(summary, key=int)
    x = range(len(conns))
    width = 0.38
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    (ax_rate, ax_lat), (ax_cpu, ax_open) = axes

    for i, system in enumerate(("venue", "peer")):
        offset = (i - 0.5) * width
        medians = [summary[c][system]["orders_per_s"] for c in conns]
        ax_rate.bar([k + offset for k in x], medians, width, label=system, color=COLORS[system])
        for k, c in enumerate(conns):
            points = [r["orders_per_s"] for r in runs
                      if r["system"] == system and r["connections"] == int(c)]  # fmt: skip
            ax_rate.scatter([k + offset] * len(points), points, color="black", s=10, zorder=3)
        p50 = [summary[c][system]["p50_ms"] for c in conns]
        p99 = [summary[c][system]["p99_ms"] for c in conns]
        ax_lat.bar([k + offset for k in x], p99, width, color=COLORS[system], alpha=0.45,
                   label=f"{system} p99")  # fmt: skip
        ax_lat.bar([k + offset for k in x], p50, width, color=COLORS[system],
                   label=f"{system} p50")  # fmt: skip
        cpu = [summary[c][system]["server_cpu_us_per_order"] for c in conns]
        ax_cpu.bar([k + offset for k in x], cpu, width, label=system, color=COLORS[system])
    for k, c in enumerate(conns):
        top = max(summary[c]["venue"]["orders_per_s"], summary[c]["peer"]["orders_per_s"])
        ax_rate.annotate(f"{summary[c]['ratio_median_of_rounds']:.2f}x", (k, top * 1.04),
                         ha="center", fontsize=11, fontweight="bold")  # fmt: skip
    for ax, title, unit in (
        (ax_rate, "REST order entry, closed loop (wrk)", "orders/s (median, dots: rounds)"),
        (ax_lat, "Latency under closed loop (median of rounds)", "ms"),
        (ax_cpu, "Server CPU per order (utime+stime / orders)", "µs"),
    ):
        ax.set_xticks(list(x), [f"{c} connections" for c in conns])
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
    ax_rate.set_ylim(top=ax_rate.get_ylim()[1] * 1.1)
    ax_cpu.axhline(300, color="grey", linestyle="--", linewidth=1)
    ax_cpu.annotate(
        "300 µs target (at 1,000/s)",
        (-0.4, 300),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=8,
        color="grey",
    )

    loops = doc.get("open_loop") or []
    if loops:
        rates = sorted({r["rate"] for r in loops})
        for key, alpha in (("p99", 0.45), ("p50", 1.0)):
            values = [statistics.median(r["latency_ms"][key] for r in loops if r["rate"] == rate)
                      for rate in rates]  # fmt: skip
            ax_open.bar([str(r) for r in rates], values, 0.5, color=COLORS["venue"], alpha=alpha,
                        label=f"venue {key}")  # fmt: skip
        for rate in rates:
            points = [r["latency_ms"]["p99"] for r in loops if r["rate"] == rate]
            ax_open.scatter([str(rate)] * len(points), points, color="black", s=10, zorder=3)
        ax_open.axhline(10, color="grey", linestyle="--", linewidth=1)
        ax_open.set_yscale("log")
        ax_open.set_ylim(bottom=1)
        ax_open.annotate(
            "10 ms target at 2,000/s",
            (0, 10),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=8,
            color="grey",
        )
        ax_open.set_xlabel("requested orders/s")
        ax_open.legend(fontsize=8)
    ax_open.set_title("Venue open loop (venue loadtest), median of runs")
    ax_open.set_ylabel("ms (log)")
    git = doc.get("git", {})
    fig.suptitle(f"venue vs matching-engine 0.1.1 — {doc.get('started', '')}, "
                 f"{git.get('head', '')}, {doc['machine']['cpus']} CPUs", fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
