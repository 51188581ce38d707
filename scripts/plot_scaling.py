#!/usr/bin/python3
"""Scaling plot for CBEDNet: images/s and parallel efficiency against ranks (GPUs), one series per (mode, P).

Input: JSON lines (jobs/scaling/sweep.sh's results.jsonl: `cbednet bench` lines with mode, ranks, P, D added;
or docs/planner.md's predictions) or a CSV with at least the columns mode, ranks, P, images_per_s.
Efficiency of a point = images/s / (ranks x images/s of the same mode's 1-rank point) (for strong scaling
this is speed-up / ranks). Failed points (status != ok) are listed, not plotted.

    /usr/bin/python3 scripts/plot_scaling.py results.jsonl --csv scaling.csv --png scaling.png [--title T]
"""
import argparse
import csv
import json
import sys

COLUMNS = ["mode", "ranks", "P", "D", "status", "batch", "micro_batch", "images_per_s", "ms_per_step",
           "efficiency", "device", "precision", "arch", "size", "host", "commit"]


def load(path):
    rows = []
    with open(path) as f:
        if path.endswith(".csv"):
            rows = list(csv.DictReader(f))
        else:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    for r in rows:
        r["ranks"] = int(r["ranks"])
        r["P"] = int(r.get("P", 1))
        r["D"] = int(r.get("D", r["ranks"] // r["P"]))
        r.setdefault("status", "ok")
        if r["status"] == "ok":
            r["images_per_s"] = float(r["images_per_s"])
    return rows


def add_efficiency(rows):
    base = {}
    for r in rows:
        if r["status"] == "ok" and r["ranks"] == 1:
            base[r["mode"]] = max(base.get(r["mode"], 0.0), r["images_per_s"])
    for r in rows:
        b = base.get(r["mode"])
        r["efficiency"] = r["images_per_s"] / (r["ranks"] * b) if r["status"] == "ok" and b else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--csv")
    ap.add_argument("--png")
    ap.add_argument("--title", default="CBEDNet scaling")
    a = ap.parse_args()
    rows = load(a.input)
    if not rows:
        sys.exit(f"plot_scaling: no points in {a.input}")
    add_efficiency(rows)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow(r)
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"plot_scaling: failed point {r['mode']} ranks {r['ranks']} grid {r['P']}x{r['D']}")
    ok = [r for r in rows if r["status"] == "ok"]
    print(f"plot_scaling: {len(ok)} points, {len(failed)} failed")
    for r in sorted(ok, key=lambda r: (r["mode"], r["P"], r["ranks"])):
        eff = f"{100 * r['efficiency']:.1f}%" if r["efficiency"] != "" else "-"
        print(f"  {r['mode']:>10} ranks {r['ranks']:>5} grid {r['P']}x{r['D']:<5} {r['images_per_s']:>12.1f} img/s  "
              f"efficiency {eff}")
    if not a.png or not ok:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    series = sorted({(r["mode"], r["P"]) for r in ok})
    for mode, p in series:
        pts = sorted((r for r in ok if r["mode"] == mode and r["P"] == p), key=lambda r: r["ranks"])
        x = [r["ranks"] for r in pts]
        label = f"{mode}, " + ("DP only (P=1)" if p == 1 else f"DP+PP (P={p})")
        style = "-o" if p == 1 else "--s"
        ax1.plot(x, [r["images_per_s"] for r in pts], style, label=label, markersize=4)
        effs = [(r["ranks"], r["efficiency"]) for r in pts if r["efficiency"] != ""]
        if effs:
            ax2.plot([e[0] for e in effs], [100 * e[1] for e in effs], style, label=label, markersize=4)
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("ranks (GPUs)")
    ax1.set_ylabel("images/s")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("ranks (GPUs)")
    ax2.set_ylabel("efficiency vs 1 rank (%)")
    ax2.set_ylim(0, 110)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"plot_scaling: wrote {a.png}")


if __name__ == "__main__":
    main()
