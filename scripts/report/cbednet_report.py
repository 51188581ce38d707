#!/usr/bin/python3
"""Draws what `cbednet report` and `cbednet inspect --preview` show.

Run by the cbednet binary (app/report.cpp, app/inspect.cpp), which passes a context JSON with the class tables
(space group -> symbol, point group, crystal system: io/sim/space_group_table) and the library versions, so the
crystallography lives in one place (C++).

  cbednet_report.py report  --context CTX.json --run RUN --out DIR [--eval FILE.json] [--predictions FILE.csv]
                            [--gallery K]
  cbednet_report.py preview --context CTX.json --path DATA --out OUT.png [--samples K]

Every failure is one line on stderr and exit status 1 (missing modules: status 3); never a traceback, because
the user ran `cbednet`, not this script.
"""

import argparse
import base64
import html
import json
import math
import os
import re
import sys


def fail(message, status=1):
    print(f"cbednet: {message}", file=sys.stderr)
    sys.exit(status)


try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
except ImportError as missing:
    fail(
        f"{sys.executable} cannot import {missing.name} ({missing}); the report needs numpy and matplotlib "
        "(Debian: apt-get install python3-numpy python3-matplotlib; or set CBEDNET_PYTHON to a Python that has them)",
        3,
    )

import cbednet_samples  # noqa: E402 -- beside this script (installed together); needs matplotlib's backend set

# One progress line of train.log (core/train/progress_callback.cpp).
STEP_LINE = re.compile(
    r"epoch (\d+)/(\d+) step (\d+)/(\d+) \| ([0-9.eE+-]+|nan|inf) img/s \| loss ([0-9.eE+-]+|nan|-?inf) \| "
    r"top-1 ([0-9.eE+-]+|nan) \| lr ([0-9.eE+-]+)"
)


# ---------------------------------------------------------------------------------------------------------------
# Reading the run directory and the evaluation


def read_jsonl(path, notes):
    """Epoch records of metrics.jsonl; a torn last line (a run killed mid-write) is reported and skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                notes.append(f"{path}: line {number} is not a complete JSON record (interrupted run?); skipped")
    # A resumed run appends again from the epoch it resumed at: keep the last record of each epoch.
    by_epoch = {}
    for r in records:
        if "epoch" in r:
            by_epoch[int(r["epoch"])] = r
    return [by_epoch[e] for e in sorted(by_epoch)]


def read_step_lines(path):
    """(fractional epoch, images/s, loss, top-1, lr) of every progress line; the last one wins on repeats."""
    steps = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = STEP_LINE.search(line)
            if not m:
                continue
            epoch, epochs, step, per_epoch = (int(m.group(i)) for i in range(1, 5))
            x = epoch - 1 + step / max(per_epoch, 1)
            steps[(epoch, step)] = (x, epochs, float(m.group(5)), float(m.group(6)), float(m.group(7)),
                                    float(m.group(8)))
    return [steps[k] for k in sorted(steps)]


def read_confusion(path):
    """Labels (ints) and the count matrix [true][predicted] of evaluate's confusion CSV."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    if not rows or len(rows[0]) < 2:
        raise ValueError(f"{path}: no header row")
    labels = [int(v) for v in rows[0][1:]]
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    if len(rows) - 1 != len(labels):
        raise ValueError(f"{path}: {len(rows) - 1} rows for {len(labels)} classes")
    for i, row in enumerate(rows[1:]):
        if len(row) != len(labels) + 1:
            raise ValueError(f"{path}: row {i + 2} has {len(row) - 1} counts, expected {len(labels)}")
        counts[i] = [int(v) for v in row[1:]]
    return labels, counts


def read_ini_value(text, key):
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


# ---------------------------------------------------------------------------------------------------------------
# Figures


class Figures:
    """Saves each figure as DIR/<name>.png and keeps it for embedding (base64) in the HTML."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.saved = {}

    def save(self, fig, name):
        path = os.path.join(self.out_dir, name + ".png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        with open(path, "rb") as f:
            self.saved[name] = base64.b64encode(f.read()).decode("ascii")
        return name

    def img(self, name, alt):
        return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{self.saved[name]}">'
                f"<figcaption>{html.escape(alt)} ({html.escape(name)}.png)</figcaption></figure>")


def training_figures(figs, epochs, steps):
    """Loss, top-1, learning rate and throughput per step (train.log) and per epoch (metrics.jsonl)."""
    names = []
    e = np.array([r["epoch"] for r in epochs], dtype=float)
    val = [r.get("validation") for r in epochs]
    s = np.array([st[0] for st in steps]) if steps else np.zeros(0)

    def column(i):
        return np.array([st[i] for st in steps])

    panels = [
        ("loss", "training loss (cross-entropy, nats)", 3, "train_loss"),
        ("top1", "top-1 accuracy (fraction)", 4, "train_top1"),
        ("learning_rate", "learning rate", 5, "lr"),
        ("throughput", "throughput (images/s)", 2, "images_per_s"),
    ]
    for name, ylabel, step_column, epoch_key in panels:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        if steps:
            ax.plot(s, column(step_column), lw=1, alpha=0.7, label="train, per logged step")
        if epochs:
            ax.plot(e, [r.get(epoch_key, np.nan) for r in epochs], "o-", label="train, per epoch")
        if name == "top1" and any(v for v in val):
            for key, label, style in (("top1", "validation top-1", "s-"), ("top5", "validation top-5", "^--"),
                                      ("macro_f1", "validation macro-F1", "d:")):
                ax.plot(e, [v.get(key, np.nan) if v else np.nan for v in val], style, label=label)
            ax.plot(e, [v["majority_baseline"]["top1"] if v and "majority_baseline" in v else np.nan for v in val],
                    "k--", lw=1, label="majority baseline (validation)")
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        names.append(figs.save(fig, name))
    return names


def confusion_figure(figs, name, counts, labels, title, axis_unit, annotate=True):
    """Rows normalised to the true class (colour), counts written in the non-empty cells."""
    support = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, support, out=np.zeros(counts.shape, dtype=float), where=support > 0)
    n = len(labels)
    size = max(4.0, min(18.0, 0.32 * n + 2.5))
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class's samples")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(labels, rotation=90, fontsize=8 if n <= 40 else 6)
    ax.set_yticklabels(labels, fontsize=8 if n <= 40 else 6)
    ax.set_xlabel(f"predicted {axis_unit}")
    ax.set_ylabel(f"true {axis_unit}")
    ax.set_title(title)
    if annotate and n <= 40:
        for t in range(n):
            for p in range(n):
                if counts[t, p]:
                    ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=8 if n <= 12 else 6,
                            color="white" if normalised[t, p] > 0.5 else "black")
    return figs.save(fig, name)


def per_class_table(counts, labels, classes):
    """Precision, recall, F1 and support of every class present, sorted by support then F1 (largest first)."""
    rows = []
    for i, label in enumerate(labels):
        support = int(counts[i].sum())
        predicted = int(counts[:, i].sum())
        if support == 0 and predicted == 0:
            continue
        tp = int(counts[i, i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        info = classes.get(label, {})
        rows.append((label, info.get("symbol", ""), info.get("crystal_system", ""), precision, recall, f1, support,
                     predicted))
    rows.sort(key=lambda r: (-r[6], -r[5], r[0]))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# The report


def table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def evaluation_section(figs, eval_path, context, run_classes, notes):
    parts = []
    with open(eval_path, encoding="utf-8") as f:
        try:
            evaluation = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{eval_path}: not a JSON file written by cbednet evaluate --out ({e})")
    metrics = evaluation.get("metrics")
    if not isinstance(metrics, dict):
        raise ValueError(f"{eval_path}: no \"metrics\" object (not written by cbednet evaluate --out?)")
    parts.append(f"<p>checkpoint <code>{html.escape(str(evaluation.get('checkpoint', '?')))}</code>, data "
                 f"<code>{html.escape(str(evaluation.get('data', '?')))}</code>, split "
                 f"<code>{html.escape(str(evaluation.get('split', '?')))}</code>.</p>")
    baseline = metrics.get("majority_baseline", {})
    rows = []
    for key, label in (("samples", "samples"), ("top1", "top-1 accuracy"), ("top5", "top-5 accuracy"),
                       ("macro_f1", "macro-F1"), ("balanced_accuracy", "balanced accuracy"),
                       ("crystal_system_accuracy", "crystal-system accuracy"),
                       ("point_group_accuracy", "point-group accuracy")):
        if key in metrics:
            value = metrics[key]
            rows.append((label, value if key == "samples" else f"{value:.4f}",
                         f"{baseline[key]:.4f}" if key in baseline else "—"))
    parts.append(table(("metric", "model", "majority baseline"), rows))

    confusion_path = os.path.splitext(eval_path)[0] + ".confusion.csv"
    if not os.path.exists(confusion_path):
        notes.append(f"{confusion_path} not found: no confusion matrices or per-class table")
        return "\n".join(parts)
    labels, counts = read_confusion(confusion_path)
    if run_classes is not None and run_classes != len(labels):
        notes.append(f"{confusion_path} has {len(labels)} classes but the run was trained with {run_classes}: "
                     "the evaluation is of another class set (another run?)")
    classes = {int(k): v for k, v in context["classes"].items()}
    standard = len(labels) == 230 and labels == list(range(1, 231))

    if standard:
        systems = context["crystal_systems"]
        point_groups = context["point_groups"]
        for name, names, key, title, unit in (
            ("confusion_crystal_system", systems, "crystal_system_index", "crystal systems", "crystal system"),
            ("confusion_point_group", point_groups, "point_group_index", "point groups", "point group"),
        ):
            index = np.array([classes[l][key] for l in labels])
            one_hot = np.zeros((len(labels), len(names)), dtype=np.int64)
            one_hot[np.arange(len(labels)), index] = 1
            coarse = one_hot.T @ counts @ one_hot  # sums the space-group counts into coarse classes
            parts.append(f"<h3>Confusion of the {len(names)} {title}</h3>")
            parts.append(figs.img(confusion_figure(figs, name, coarse, names, f"{title} (rows: true, normalised)",
                                                   unit), f"confusion matrix of the {title}"))
    else:
        notes.append(f"{confusion_path}: {len(labels)} classes, not the 230 space groups: the crystal-system and "
                     "point-group matrices need the 230-class set and are left out")

    present = [i for i in range(len(labels)) if counts[i].sum() or counts[:, i].sum()]
    if present:
        sub = counts[np.ix_(present, present)]
        names = [f"{labels[i]} {classes.get(labels[i], {}).get('symbol', '')}".strip() for i in present]
        parts.append(f"<h3>Space-group confusion ({len(present)} classes present)</h3>")
        parts.append(figs.img(confusion_figure(figs, "confusion_space_group", sub, names,
                                               "space groups present (rows: true, normalised)", "space group"),
                              "space-group confusion heatmap"))
    rows = per_class_table(counts, labels, classes)
    parts.append("<h3>Per-class precision, recall and F1</h3>")
    parts.append(table(("space group", "symbol", "crystal system", "precision", "recall", "F1", "support (true)",
                        "predicted"),
                       [(r[0], r[1], r[2], f"{r[3]:.3f}", f"{r[4]:.3f}", f"{r[5]:.3f}", r[6], r[7]) for r in rows]))
    return "\n".join(parts)


STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #246; } h2 { color: #246; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: right; } th { background: #eef; }
figure { margin: 1em 0; } img { max-width: 100%; } figcaption { font-size: 0.8em; color: #666; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.notes { background: #fff4e0; border-left: 4px solid #e90; padding: 0.5em 1em; }
table.gallery td, table.gallery th { text-align: left; vertical-align: top; } table.gallery figure { margin: 0; }
tr.mistake td:nth-child(3) { color: #b00; } tr.correct td:nth-child(3) { color: #070; }
"""


def make_report(args, context):
    run = args.run
    if not os.path.isdir(run):
        raise ValueError(f"{run}: not a run directory (no such directory)")
    os.makedirs(args.out, exist_ok=True)
    figs = Figures(args.out)
    notes = []
    sections = []

    config_path = os.path.join(run, "config.ini")
    config_text = None
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8", errors="replace") as f:
            config_text = f.read()
    else:
        notes.append(f"{config_path} not found: the run's configuration is unknown")
    run_classes = None
    if config_text:
        value = read_ini_value(config_text, "classes")
        run_classes = int(value) if value and value.isdigit() else None

    epochs, steps = [], []
    jsonl = os.path.join(run, "metrics.jsonl")
    if os.path.exists(jsonl):
        epochs = read_jsonl(jsonl, notes)
        if not epochs:
            notes.append(f"{jsonl} holds no epoch record: the run ended before its first epoch")
    else:
        notes.append(f"{jsonl} not found: no per-epoch metrics (the run did not finish an epoch, or this is not "
                     "a run directory)")
    log = os.path.join(run, "train.log")
    if os.path.exists(log):
        steps = read_step_lines(log)
        if not steps:
            notes.append(f"{log} holds no progress lines: no per-step curves")
    else:
        notes.append(f"{log} not found: no per-step curves")
    planned = steps[-1][1] if steps else None
    if planned and epochs and epochs[-1]["epoch"] < planned:
        notes.append(f"the run stopped after epoch {epochs[-1]['epoch']} of {planned} (interrupted or still "
                     "running): the curves show what exists")

    if epochs or steps:
        names = training_figures(figs, epochs, steps)
        captions = {"loss": "training loss per step and per epoch", "top1": "top-1 accuracy: train and validation",
                    "learning_rate": "learning rate schedule", "throughput": "training throughput"}
        body = "".join(figs.img(n, captions[n]) for n in names)
        if epochs:
            rows = []
            for r in epochs:
                v = r.get("validation") or {}
                rows.append((r["epoch"], r.get("global_step", ""), f"{r.get('train_loss', math.nan):.4f}",
                             f"{r.get('train_top1', math.nan):.3f}", f"{r.get('lr', math.nan):.5f}",
                             f"{r.get('seconds', math.nan):.1f}", f"{r.get('images_per_s', math.nan):.1f}",
                             f"{v['top1']:.3f}" if "top1" in v else "—", f"{v['top5']:.3f}" if "top5" in v else "—",
                             f"{v['macro_f1']:.3f}" if "macro_f1" in v else "—"))
            body += table(("epoch", "global step", "train loss", "train top-1", "lr", "seconds", "images/s",
                           "val top-1", "val top-5", "val macro-F1"), rows)
        sections.append(("Training", body))
    else:
        sections.append(("Training", "<p>No training metrics in this run directory (see the notes above).</p>"))

    if args.eval:
        if not os.path.exists(args.eval):
            raise ValueError(f"{args.eval}: evaluation file not found (write it with cbednet evaluate --out)")
        sections.append(("Evaluation", evaluation_section(figs, args.eval, context, run_classes, notes)))
    else:
        sections.append(("Evaluation", "<p>No evaluation given (<code>cbednet report RUN --eval FILE.json</code>, "
                                       "from <code>cbednet evaluate --out FILE.json</code>).</p>"))

    if args.predictions:
        if not os.path.exists(args.predictions):
            raise ValueError(f"{args.predictions}: predictions file not found (write it with cbednet predict --out)")
        sections.append(("Gallery", cbednet_samples.gallery_section(figs, args.predictions, context, args.gallery,
                                                                    notes)))
    else:
        sections.append(("Gallery", "<p>No predictions given (<code>cbednet report RUN --predictions FILE.csv</code>, "
                                    "from <code>cbednet predict --split test --out FILE.csv</code>).</p>"))

    sections.append(("Configuration", f"<pre>{html.escape(config_text)}</pre>" if config_text else
                     "<p>No config.ini.</p>"))
    sections.append(("Versions", f"<pre>{html.escape(context.get('versions', ''))}"
                                 f"python {html.escape(sys.version.split()[0])}, numpy {np.__version__}, "
                                 f"matplotlib {matplotlib.__version__}</pre>"))

    notes_html = ("<div class=\"notes\"><h2>Notes: what is missing</h2><ul>" +
                  "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul></div>") if notes else ""
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>CBEDNet report: "
            f"{html.escape(os.path.abspath(run))}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>CBEDNet report</h1><p>run directory <code>{html.escape(os.path.abspath(run))}</code></p>\n"
            f"{notes_html}\n" +
            "\n".join(f"<h2>{html.escape(title)}</h2>\n{body}" for title, body in sections) +
            "\n</body></html>\n")
    path = os.path.join(args.out, "report.html")
    temporary = path + f".tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(temporary, path)
    print(f"wrote {path} ({len(figs.saved)} figures)" + (f"; {len(notes)} note(s) on what is missing" if notes else ""))
    for n in notes:
        print(f"  note: {n}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    report = sub.add_parser("report")
    report.add_argument("--context", required=True)
    report.add_argument("--run", required=True)
    report.add_argument("--out", required=True)
    report.add_argument("--eval")
    report.add_argument("--predictions")
    report.add_argument("--gallery", type=int, default=12)
    preview = sub.add_parser("preview")
    preview.add_argument("--context", required=True)
    preview.add_argument("--path", required=True)
    preview.add_argument("--out", required=True)
    preview.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    try:
        with open(args.context, encoding="utf-8") as f:
            context = json.load(f)
        if args.mode == "report":
            if args.gallery < 1:
                raise ValueError(f"--gallery: expected at least 1 sample, got {args.gallery}")
            make_report(args, context)
        else:
            if args.samples < 1:
                raise ValueError(f"--samples: expected at least 1, got {args.samples}")
            cbednet_samples.make_preview(args, context)
    except cbednet_samples.MissingModule as e:
        fail(f"{sys.executable} {e}", 3)
    except (ValueError, OSError, KeyError, json.JSONDecodeError) as e:
        fail(str(e) if not isinstance(e, KeyError) else f"missing entry {e}")
    except Exception as e:  # noqa: BLE001 -- anything else is still one line, with its kind, never a traceback
        fail(f"{args.mode} failed: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
