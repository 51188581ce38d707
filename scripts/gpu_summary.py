#!/usr/bin/env python3
"""Summarises what scripts/gpu-run.sh brought back, as Markdown: the card and commit, every step's exit status, the
GPU tests, and CBEDNet's training and inference throughput as ratios to PyTorch measured in the SAME call, checked
against issue 20's targets; peak device memory beside PyTorch's.

  python3 scripts/gpu_summary.py OUT [OUT2 ...] [--out summary.md] [--json targets.json]

Each OUT is the folder of one device call ($OUT of gpu-run.sh, or a folder holding its gpu-out.tar.gz, which is read
in place). Ratios never mix calls: a CBEDNet line is compared only with PyTorch rows of its own folder. Exits 0
whatever the results (it reports; the numbers are judged by whoever commits them), 2 when a folder holds none of
gpu-run.sh's files. Standard library only, so it runs on the GPU machine too (gpu-run.sh writes summary.md)."""
import argparse
import json
import os
import sys
import tarfile

# Issue 20's targets: (CBEDNet precision, PyTorch mode, phase) -> the least ratio CBEDNet/PyTorch.
TARGETS = {
    ("bf16", "bf16cl-compile", "train"): 1.3,
    ("fp16", "fp16cl", "train"): 1.3,
    ("tf32", "tf32", "train"): 1.1,
    ("bf16", "bf16cl", "infer"): 1.5,
}
# The PyTorch modes a CBEDNet precision is compared with (reported even without a target).
PEER_MODES = {"bf16": ["bf16cl", "bf16cl-compile"], "fp16": ["fp16cl"], "tf32": ["tf32"], "fp32": ["fp32"]}


class Call:
    """One device call's files: those in the folder, and the members of its gpu-out.tar.gz (the folder's win)."""

    def __init__(self, folder):
        self.folder = folder
        self.files = {}
        archive = os.path.join(folder, "gpu-out.tar.gz")
        if os.path.isfile(archive):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        self.files[os.path.normpath(member.name)] = tar.extractfile(member).read()
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and name != "gpu-out.tar.gz":
                with open(path, "rb") as f:
                    self.files[name] = f.read()

    def text(self, name):
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", "replace")

    def json_lines(self, name):
        rows = []
        for line in (self.text(name) or "").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut off by a time limit
        return rows

    def known(self):
        return any(n in self.files for n in ("steps.jsonl", "machine.txt", "cbednet_bench.jsonl"))


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def machine(call):
    lines = (call.text("machine.txt") or "").splitlines()
    commit = next((l.split(" ", 1)[1] for l in lines if l.startswith("commit ")), "unknown")
    dirty = "uncommitted changes:" in lines
    card = "unknown"
    for i, l in enumerate(lines):
        if l.startswith("name,") and i + 1 < len(lines):
            card = lines[i + 1].strip()
            break
    return commit + (" (plus uncommitted changes, listed in machine.txt)" if dirty else ""), card


def steps(call):
    rows = []
    for s in call.json_lines("steps.jsonl"):
        rc = s.get("rc")
        status = "ok" if rc == 0 else ("**failed (%s)**" % rc if isinstance(rc, int) else str(rc))
        rows.append((s.get("step", "?"), status, s.get("seconds", "")))
    return rows


def gtests(call):
    rows, failed = [], []
    for name in sorted(n for n in call.files if n.startswith("test_gpu_") and n.endswith(".json")):
        try:
            report = json.loads(call.text(name))
        except json.JSONDecodeError:
            rows.append((name, "unreadable (cut off?)", "", ""))
            continue
        for suite in report.get("testsuites", []):
            for test in suite.get("testsuite", []):
                if test.get("failures"):
                    failed.append("%s: %s.%s" % (name, suite.get("name"), test.get("name")))
        rows.append((name, report.get("tests", 0), report.get("failures", 0), report.get("disabled", 0)))
    return rows, failed


def conv_apis(line):
    counts = {}
    for layer in line.get("conv_layers", []) or []:
        counts[layer.get("conv_api")] = counts.get(layer.get("conv_api"), 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(counts.items())) or "-"


def comparisons(call, folder_label):
    """(kind, row) pairs: every CBEDNet line against every PyTorch row of its arch, batch and phase in this call."""
    torch = [r for r in call.json_lines("torch_baseline.jsonl") if r.get("peer") == "pytorch" and "error" not in r]
    out = []
    for line in call.json_lines("cbednet_bench.jsonl"):
        phase = {"train_step": "train", "inference": "infer"}.get(line.get("benchmark"))
        if phase is None:
            continue
        precision = line.get("precision")
        for mode in PEER_MODES.get(precision, []):
            peers = [r for r in torch if r.get("mode") == mode and r.get("phase") == phase
                     and r.get("arch") == line.get("arch") and r.get("batch") == line.get("batch")
                     and r.get("size") == line.get("size")]
            if not peers:
                continue
            peer = peers[-1]
            ratio = line["images_per_s"] / peer["img_per_s"]
            target = TARGETS.get((precision, mode, phase))
            profiled = bool(line.get("profiled"))  # every operation synchronised: a breakdown, not a speed
            out.append(dict(call=folder_label, run=line.get("run", "?") + (" (profiled)" if profiled else ""),
                            profiled=profiled, phase=phase, arch=line.get("arch"),
                            batch=line.get("batch"), precision=precision, mode=mode,
                            cbednet=line["images_per_s"], pytorch=peer["img_per_s"], ratio=ratio, target=target,
                            met=None if target is None else ratio >= target, cuda_graph=line.get("cuda_graph"),
                            conv=conv_apis(line), fused=line.get("fused_batch_norm_blocks", 0),
                            peak_gib=line.get("peak_gib"), peer_peak_gib=peer.get("peak_mem_gib")))
    return out


def dash(value):
    return "-" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def fmt_ratio(c):
    return "%.3f" % c["ratio"]


# CBEDNet's backend operations (bench --profile-ops) in torch_kernel_profile.py's kinds, so that the two breakdowns
# line up: first match wins.
OP_KINDS = [
    ("optimizer", ("sgd_update", "copy_segments", "adam", "lars", "lamb")),
    ("batch_norm", ("batchnorm", "scale_bias_act", "fold_running_statistics")),
    ("pooling", ("pool",)),
    ("convolution_gemm", ("conv2d", "linear")),
    ("elementwise", ("axpy", "scale", "copy", "fill", "softmax", "add", "relu", "loss")),
]


def op_kind(op):
    for kind, prefixes in OP_KINDS:
        if any(p in op for p in prefixes):
            return kind
    return "other"


def breakdowns(call):
    """Markdown lines: each CBEDNet op_profile of this call by kind beside PyTorch's kernel profile of this call."""
    torch = [r for r in call.json_lines("torch_kernel_profile.jsonl") if r.get("benchmark") == "kernel_profile"]
    md = []
    for line in call.json_lines("cbednet_bench.jsonl"):
        if line.get("benchmark") != "op_profile":
            continue
        ours = {}
        for o in line.get("by_op", []):
            ours[op_kind(o["op"])] = ours.get(op_kind(o["op"]), 0.0) + o["ms"]
        peer = torch[-1] if torch else None
        theirs = peer["by_kind_ms_per_step"] if peer else {}
        kinds = sorted(set(ours) | set(theirs), key=lambda k: -ours.get(k, 0.0))
        md += ["### Where the time goes: %s against PyTorch's kernels (%s), ms per step" % (
            line.get("run", "?"), "this call's torch_kernel_profile, mode %s" % peer.get("mode") if peer else
            "no PyTorch kernel profile in this call"), ""]
        rows = [(k, "%.2f" % ours[k] if k in ours else "-", "%.2f" % theirs[k] if k in theirs else "-",
                 "%.2f" % (ours[k] / theirs[k]) if k in ours and theirs.get(k) else "-") for k in kinds]
        rows.append(("total", "%.2f" % sum(ours.values()), "%.2f" % peer["kernel_ms_per_step"] if peer else "-",
                     "%.2f" % (sum(ours.values()) / peer["kernel_ms_per_step"]) if peer and peer["kernel_ms_per_step"]
                     else "-"))
        md += table(["kind", "CBEDNet", "PyTorch", "CBEDNet / PyTorch"], rows)
        md += ["", "CBEDNet's times are its operations each timed alone between two synchronisations (launch gaps "
               "included); PyTorch's are kernel times from torch.profiler.", ""]
    return md


def summarise(folders):
    calls = [(f, Call(f)) for f in folders]
    for folder, call in calls:
        if not call.known():
            print("gpu_summary: %s: none of gpu-run.sh's files (steps.jsonl, machine.txt, cbednet_bench.jsonl)"
                  % folder, file=sys.stderr)
            sys.exit(2)
    md, all_comparisons = ["# GPU run summary", ""], []
    for folder, call in calls:
        commit, card = machine(call)
        md += ["## Call: %s" % folder, "", "- card (name, memory, driver): %s" % card, "- commit: %s" % commit, ""]
        md += table(["step", "status", "seconds"], steps(call)) + [""]
        rows, failed = gtests(call)
        if rows:
            md += table(["GPU test report", "tests", "failures", "disabled"], rows) + [""]
        md += ["- failed: " + f for f in failed] + ([""] if failed else [])
        comps = comparisons(call, folder)
        all_comparisons += comps
        for phase, title in (("train", "Training"), ("infer", "Inference")):
            sel = [c for c in comps if c["phase"] == phase]
            if not sel:
                continue
            md += ["### %s, against PyTorch in this call" % title, ""]
            md += table(["run", "arch", "batch", "precision", "CBEDNet img/s", "PyTorch mode", "PyTorch img/s",
                         "ratio", "target", "convolutions", "fused BN blocks", "CUDA graph", "peak GiB (PyTorch)"],
                        [(c["run"], c["arch"], c["batch"], c["precision"], "%.1f" % c["cbednet"], c["mode"],
                          "%.1f" % c["pytorch"], fmt_ratio(c),
                          "" if c["target"] is None else ("%.1fx %s" % (c["target"], "met" if c["met"] else "NOT met")),
                          c["conv"], c["fused"], dash(c["cuda_graph"]),
                          "%s (%s)" % (dash(c["peak_gib"]), dash(c["peer_peak_gib"])))
                         for c in sel]) + [""]
        md += breakdowns(call)
    md += ["## Targets (issue 20), the best CBEDNet run for each", ""]
    verdicts = []
    for (precision, mode, phase), target in TARGETS.items():
        sel = [c for c in all_comparisons if (c["precision"], c["mode"], c["phase"]) == (precision, mode, phase)
               and c["arch"] == "resnet50" and not c["profiled"]]
        best = max(sel, key=lambda c: c["ratio"], default=None)
        verdicts.append(dict(precision=precision, mode=mode, phase=phase, target=target,
                             ratio=None if best is None else best["ratio"],
                             run=None if best is None else best["run"],
                             met=None if best is None else best["met"]))
    # Memory: the fastest bf16 ResNet-50 training run's peak against PyTorch's bf16cl peak of the same call.
    train_bf16 = [c for c in all_comparisons if (c["precision"], c["mode"], c["phase"], c["arch"]) ==
                  ("bf16", "bf16cl", "train", "resnet50") and not c["profiled"] and c["peak_gib"] is not None
                  and c["peer_peak_gib"] is not None]
    fastest = max(train_bf16, key=lambda c: c["ratio"], default=None)
    memory = None if fastest is None else dict(
        run=fastest["run"], peak_gib=float(fastest["peak_gib"]), pytorch_peak_gib=float(fastest["peer_peak_gib"]),
        met=float(fastest["peak_gib"]) <= float(fastest["peer_peak_gib"]))
    md += table(["phase", "CBEDNet", "PyTorch", "target", "best ratio", "run", "verdict"],
                [(v["phase"], v["precision"], v["mode"], "%.1fx" % v["target"],
                  "-" if v["ratio"] is None else "%.3f" % v["ratio"], v["run"] or "-",
                  "not measured" if v["met"] is None else ("met" if v["met"] else "NOT met")) for v in verdicts])
    md += ["", "Memory (bf16 ResNet-50 training, the fastest run): " + (
        "not measured" if memory is None else "CBEDNet %.2f GiB (%s) against PyTorch's %.2f GiB: %s" % (
            memory["peak_gib"], memory["run"], memory["pytorch_peak_gib"], "met" if memory["met"] else "NOT met"))]
    md += ["", "Ratios are CBEDNet images/s over PyTorch's from the same device call; a run and its peer differ in "
           "nothing but the program. Memory target: CBEDNet's peak (allocator) no more than PyTorch's at batch 64."]
    return "\n".join(md) + "\n", {"targets": verdicts, "memory": memory}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", help="one folder per device call")
    p.add_argument("--out", help="write the Markdown here (default: standard output)")
    p.add_argument("--json", help="write the targets' verdicts here as JSON")
    a = p.parse_args()
    for folder in a.folders:
        if not os.path.isdir(folder):
            print("gpu_summary: %s: not a folder" % folder, file=sys.stderr)
            sys.exit(2)
    md, verdicts = summarise(a.folders)
    if a.out:
        with open(a.out, "w") as f:
            f.write(md)
    else:
        sys.stdout.write(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(verdicts, f, indent=1)


if __name__ == "__main__":
    main()
