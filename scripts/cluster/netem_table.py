#!/usr/bin/python3
"""Table and plot of scripts/cluster/bench-netem.sh: measured against predicted, per netem setting.

Reads OUT/network-*.jsonl (`cbednet bench --network`), OUT/steps.jsonl (`cbednet bench --grid`), OUT/plan-*.json
(`cbednet plan --json --top 1000`); writes OUT/table.csv, OUT/table.json and OUT/table.png. The allreduce
rows show the ring formula over the measured link (what the planner used before) and, for >= 64 KiB, the fit the
planner now takes from the same lines; the step predictions are the planner's own step_ms. Exits 1 when a step row
misses by more than 15 %.
Needs matplotlib (Debian: python3-matplotlib; run with /usr/bin/python3)."""
import csv
import glob
import json
import math
import os
import statistics
import sys

TOLERANCE = 0.15


def lines(path):
    return [json.loads(l) for l in open(path) if l.strip().startswith("{")]


def allreduce_us(latency_us, gbps, nbytes, ranks, bucket=25 * 2**20):
    """core/plan/planner.cpp allreduce_seconds, in microseconds."""
    buckets = math.ceil(nbytes / bucket)
    return buckets * 2 * (ranks - 1) * latency_us + 2 * (ranks - 1) / ranks * nbytes * 8 / (gbps * 1e3)


def main():
    out = sys.argv[1]
    steps = lines(os.path.join(out, "steps.jsonl"))
    rows = []
    for net_path in sorted(glob.glob(os.path.join(out, "network-*.jsonl"))):
        tag = os.path.basename(net_path)[len("network-"):-len(".jsonl")]
        setting = tag.replace("-", " ")
        net = lines(net_path)
        link = next(r for r in net if r["benchmark"] == "network_link")
        lat, gbps = link["latency_us"], link["gbps"]
        for r in net:
            if r["benchmark"] == "network_p2p":
                rows.append(dict(setting=setting, what=f"p2p {r['bytes']} B one-way", measured_ms=r["one_way_us"] / 1e3,
                                 predicted_ms=(lat + r["bytes"] * 8 / (gbps * 1e3)) / 1e3, kind="calibration"))
        plan = json.load(open(os.path.join(out, f"plan-{tag}.json")))
        fit = plan.get("allreduce_fit")
        for r in net:
            if r["benchmark"] != "network_allreduce":
                continue
            ring = allreduce_us(lat, gbps, r["bytes"], r["ranks"]) / 1e3
            row = dict(setting=setting, what=f"allreduce {r['bytes']} B x {r['ranks']} ranks",
                       measured_ms=r["us"] / 1e3, ring_ms=ring)
            if fit and r["bytes"] >= 65536:
                # What the planner uses since --calibrate-network: the fit to these same lines.
                row.update(predicted_ms=(fit["fixed_us"] + r["bytes"] * 8 / (fit["gbps"] * 1e3)) / 1e3,
                           kind="calibration (fit)")
            else:
                row.update(predicted_ms=ring, kind="ring formula")
            rows.append(row)
        for grid, p, micro in (("1x3", 1, 4), ("3x1", 3, 2)):
            measured = [s["ms_per_step"] for s in steps if s["netem"] == setting and s["grid"] == grid]
            pred = next(c for c in plan["top"] if c["P"] == p and c["micro_batch"] == micro)
            rows.append(dict(setting=setting, what=f"step {grid} (micro-batch {micro})",
                             measured_ms=statistics.median(measured), predicted_ms=pred["step_ms"], kind="check",
                             measured_runs=measured, predicted_allreduce_ms=pred["allreduce_ms"]))
    for r in rows:
        r["measured_over_predicted"] = r["measured_ms"] / r["predicted_ms"]
        r["within_15pct"] = abs(r["measured_over_predicted"] - 1) <= TOLERANCE
    with open(os.path.join(out, "table.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["netem", "measurement", "kind", "measured_ms", "predicted_ms", "measured/predicted", "within 15%",
                    "ring_formula_ms"])
        for r in rows:
            w.writerow([r["setting"], r["what"], r["kind"], f"{r['measured_ms']:.4g}", f"{r['predicted_ms']:.4g}",
                        f"{r['measured_over_predicted']:.3f}", r["within_15pct"],
                        f"{r['ring_ms']:.4g}" if "ring_ms" in r else ""])
    json.dump(rows, open(os.path.join(out, "table.json"), "w"), indent=1)
    for r in rows:
        print(f"{r['setting']:>13} | {r['what']:<34} | measured {r['measured_ms']:9.4g} ms | predicted "
              f"{r['predicted_ms']:9.4g} ms | {r['measured_over_predicted']:.2f}{'' if r['within_15pct'] else '  MISS'}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    checks = [r for r in rows if r["kind"] != "calibration"]
    settings = sorted({r["setting"] for r in checks})
    fig, axes = plt.subplots(1, len(settings), figsize=(6 * len(settings), 4.5), squeeze=False)
    for ax, s in zip(axes[0], settings):
        sel = [r for r in checks if r["setting"] == s]
        x = range(len(sel))
        ax.bar([i - 0.2 for i in x], [r["measured_ms"] for r in sel], 0.4, label="measured")
        ax.bar([i + 0.2 for i in x], [r["predicted_ms"] for r in sel], 0.4, label="planner")
        ax.set_xticks(list(x))
        ax.set_xticklabels([r["what"].replace(" x 3 ranks", "").replace(" (micro-batch", "\n(m") for r in sel],
                           fontsize=7, rotation=20)
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title(f"links shaped to {s} (rate, delay), 3 nodes")
        for i, r in enumerate(sel):
            ax.text(i, max(r["measured_ms"], r["predicted_ms"]) * 1.1, f"{r['measured_over_predicted']:.2f}",
                    ha="center", fontsize=7)
        ax.legend(fontsize=8)
    fig.suptitle("measured vs predicted (labels: measured / predicted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "table.png"), dpi=110)
    steps = [r for r in rows if r["kind"] == "check"]
    return 0 if all(r["within_15pct"] for r in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
