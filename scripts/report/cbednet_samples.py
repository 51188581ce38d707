"""Pictures of samples for cbednet_report.py: the preview of a data set (`cbednet inspect --preview`) and the
report's gallery of test samples with their predictions (`cbednet report --predictions`).

Samples are read with h5py from the files themselves: an SMC-2019 group's `cbed_stack` (raw intensities) or a row
of a packed file's `images` (as stored: already preprocessed, see its `preprocessing` attribute).
"""

import csv
import html
import os
import re

import numpy as np
import matplotlib.pyplot as plt


class MissingModule(Exception):
    """A Python module the pictures need is not installed (the caller exits with status 3)."""


def import_h5py():
    try:
        import h5py
    except ImportError as missing:
        raise MissingModule(f"cannot import h5py ({missing}); sample pictures need it (Debian: python3-h5py)")
    return h5py


def log_scaled(image):
    """The log scaling of training's --log-scale (io/preprocess.cpp): 10 (max(ln v, -17) + 17), 0 for v <= 0."""
    return (np.maximum(np.log(np.where(image > 0, image, 1e-30)), -17) + 17) * 10


def read_space_group(group):
    sg = group.attrs.get("space_group")
    if isinstance(sg, bytes):
        sg = sg.rstrip(b"\0").decode()
    return int(np.asarray(sg).item() if not isinstance(sg, str) else sg)


# ---------------------------------------------------------------------------------------------------------------
# Preview of samples (cbednet inspect --preview)


def sample_key(name):
    m = re.match(r"sample_(\d+)_(\d+)$", name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def list_h5_files(path):
    if os.path.isdir(path):
        files = []
        for root, _, names in sorted(os.walk(path)):
            files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".h5")]
        order = {"train": 0, "dev": 1, "test": 2}
        files.sort(key=lambda f: (order.get(os.path.basename(os.path.dirname(f)), 3), f))
        if not files:
            raise ValueError(f"{path}: no .h5 files in this directory")
        return files
    if os.path.exists(path):
        return [path]
    raise ValueError(f"{path}: no such file or directory")


def preview_samples(path, k):
    """Up to k (title, stack (3,S,S) or (C,S,S), space group) from an SMC file or directory, or a packed file."""
    h5py = import_h5py()
    samples = []
    for file in list_h5_files(path):
        try:
            h5 = h5py.File(file, "r")
        except OSError as e:
            raise ValueError(f"{file}: not a readable HDF5 file ({e})")
        with h5:
            if "images" in h5 and "labels" in h5:  # packed layout
                n = min(k - len(samples), h5["images"].shape[0])
                for i in range(n):
                    samples.append((f"{os.path.basename(file)} [{i}] (packed)", np.asarray(h5["images"][i],
                                    dtype=np.float32), int(h5["labels"][i])))
            else:
                # First energy of every material first: the preview shows different crystals, not one crystal
                # at K beam energies.
                groups = sorted((g for g in h5.keys() if sample_key(g)), key=lambda g: sample_key(g)[::-1])
                for g in groups[: k - len(samples)]:
                    if "cbed_stack" not in h5[g]:
                        raise ValueError(f"{file}: group {g} has no cbed_stack")
                    samples.append((f"{os.path.basename(file)} / {g}", np.asarray(h5[g]["cbed_stack"],
                                                                                  dtype=np.float32),
                                    read_space_group(h5[g])))
        if len(samples) >= k:
            break
    if not samples:
        raise ValueError(f"{path}: no samples found (neither SMC sample_<i>_<k> groups nor a packed file)")
    return samples


def make_preview(args, context):
    classes = {int(key): v for key, v in context["classes"].items()}
    samples = preview_samples(args.path, args.samples)
    channels = max(s[1].shape[0] for s in samples)
    fig, axes = plt.subplots(len(samples), 2 * channels, figsize=(2.2 * 2 * channels, 2.5 * len(samples)),
                             squeeze=False)
    for row, (title, stack, sg) in enumerate(samples):
        info = classes.get(sg, {})
        label = f"{title}\nspace group {sg} {info.get('symbol', '')} ({info.get('crystal_system', '?')})"
        for c in range(2 * channels):
            ax = axes[row, c]
            ax.set_xticks([])
            ax.set_yticks([])
            projection = c % channels
            if projection >= stack.shape[0]:
                ax.axis("off")
                continue
            logged = c >= channels
            ax.imshow(log_scaled(stack[projection]) if logged else stack[projection], cmap="inferno")
            ax.set_title(f"projection {projection} {'log' if logged else 'raw'}", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"{args.path}: {len(samples)} sample(s), raw (left) and log-scaled (right), pixels")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    plt.close(fig)
    print(f"wrote {args.out} ({len(samples)} samples)")


# ---------------------------------------------------------------------------------------------------------------
# Gallery of predicted samples (cbednet report --predictions FILE.csv)

PREDICTION_COLUMNS = ("sample", "true_space_group", "predicted_space_group", "top5_space_groups",
                      "top5_probabilities", "file", "group", "row")


def read_predictions(path):
    """Rows of `cbednet predict`'s CSV as dicts with the numbers parsed; ValueError naming the file and line."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in PREDICTION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not a predictions CSV of cbednet predict (no column {', '.join(missing)}; "
                             "write it with cbednet predict --out FILE.csv)")
        rows = []
        for r in reader:
            try:
                top = [int(v) for v in r["top5_space_groups"].split(";")]
                probs = [float(v) for v in r["top5_probabilities"].split(";")]
                rows.append({"sample": int(r["sample"]), "true": int(r["true_space_group"]),
                             "predicted": int(r["predicted_space_group"]), "top": list(zip(top, probs)),
                             "file": r["file"], "group": r["group"], "row": int(r["row"]) if r["row"] else -1,
                             "material": r.get("material", "")})
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}, line {reader.line_num}: cannot read this prediction ({e})")
    return rows


def gallery_order(rows, k):
    """The most confident mistakes first, then the correct predictions, most confident first; at most k."""
    labelled = [r for r in rows if r["true"] > 0]
    mistakes = sorted((r for r in labelled if r["predicted"] != r["true"]), key=lambda r: -r["top"][0][1])
    correct = sorted((r for r in labelled if r["predicted"] == r["true"]), key=lambda r: -r["top"][0][1])
    return (mistakes + correct)[:k], len(mistakes), len(labelled)


def read_stack(h5py, row, cache):
    """(stack (C,S,S), how it is shown) of one prediction row; ValueError when its file or group is gone."""
    file = row["file"]
    if file not in cache:
        if not os.path.exists(file):
            raise ValueError(f"{file} not found (moved since cbednet predict?)")
        cache[file] = h5py.File(file, "r")
    h5 = cache[file]
    if row["row"] >= 0:
        if "images" not in h5 or row["row"] >= h5["images"].shape[0]:
            raise ValueError(f"{file}: no row {row['row']} in images")
        return np.asarray(h5["images"][row["row"]], dtype=np.float32), "as packed (preprocessed)"
    if row["group"] not in h5 or "cbed_stack" not in h5[row["group"]]:
        raise ValueError(f"{file}: no group {row['group']} with a cbed_stack")
    return log_scaled(np.asarray(h5[row["group"]]["cbed_stack"], dtype=np.float32)), "log-scaled"


def gallery_section(figs, path, context, k, notes):
    """HTML: one table row per chosen sample, its projections as a PNG, true and predicted classes and top-5."""
    classes = {int(key): v for key, v in context["classes"].items()}

    def name(sg):
        info = classes.get(sg, {})
        return f"{sg} {info.get('symbol', '?')} ({info.get('crystal_system', '?')})"

    rows = read_predictions(path)
    chosen, mistakes, labelled = gallery_order(rows, k)
    if not chosen:
        notes.append(f"{path}: no labelled predictions, no gallery")
        return f"<p>{html.escape(path)} holds no labelled prediction.</p>"
    h5py = import_h5py()
    cache, body_rows, unreadable = {}, [], []
    try:
        for number, r in enumerate(chosen, 1):
            try:
                stack, shown = read_stack(h5py, r, cache)
            except (ValueError, OSError) as e:
                unreadable.append(f"sample {r['sample']}: {e}")
                continue
            fig, axes = plt.subplots(1, stack.shape[0], figsize=(2.0 * stack.shape[0], 2.1), squeeze=False)
            for c, ax in enumerate(axes[0]):
                ax.imshow(stack[c], cmap="inferno")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"projection {c} ({shown})", fontsize=7)
            where = f"{os.path.basename(r['file'])} " + (r["group"] if r["row"] < 0 else f"[{r['row']}]")
            image = figs.save(fig, f"gallery_{number:02d}")
            verdict = "correct" if r["predicted"] == r["true"] else "mistake"
            top5 = "<br>".join(html.escape(f"{name(sg)}: {p:.3f}") for sg, p in r["top"])
            caption = f"sample {r['sample']}: {where}"
            body_rows.append(
                f"<tr class=\"{verdict}\"><td>{figs.img(image, caption)}</td>"
                f"<td>{html.escape(name(r['true']))}<br><small>{html.escape(r['material'])}</small></td>"
                f"<td>{html.escape(name(r['predicted']))}<br><b>{verdict}</b></td><td>{top5}</td></tr>")
    finally:
        for h5 in cache.values():
            h5.close()
    for u in unreadable[:5]:
        notes.append(f"gallery: {u}")
    if len(unreadable) > 5:
        notes.append(f"gallery: {len(unreadable) - 5} more samples could not be read")
    intro = (f"<p>{len(chosen)} of {labelled} labelled predictions from <code>{html.escape(path)}</code>: the "
             f"{min(mistakes, len(chosen))} most confident mistakes (of {mistakes}) first, then correct ones, most "
             "confident first. Patterns as the file stores them: SMC samples log-scaled like training's "
             "--log-scale; packed samples as preprocessed.</p>")
    return intro + ("<table class=\"gallery\"><tr><th>projections</th><th>true space group</th>"
                    "<th>predicted</th><th>top-5 (probability)</th></tr>" + "".join(body_rows) + "</table>")
