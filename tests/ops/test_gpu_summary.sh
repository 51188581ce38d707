#!/usr/bin/env bash
# scripts/gpu_summary.py on two made-up device calls: ratios only within a call (call B's PyTorch rows never meet
# call A's CBEDNet lines), targets met and not met, profiled runs left out of the verdicts, a call read from its
# gpu-out.tar.gz alone, failed tests and steps named, the op profile by kind beside PyTorch's kernel profile, and a
# folder without gpu-run.sh's files refused (exit 2).
set -euo pipefail
root=${1:?project root}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$work/a" "$work/b" "$work/b-files" "$work/empty"
cat > "$work/a/machine.txt" <<'TXT'
commit 0123456789abcdef
name, memory.total [MiB], driver_version
NVIDIA H200, 143771 MiB, 580.1
TXT
cat > "$work/a/steps.jsonl" <<'TXT'
{"step": "test_gpu_backend", "rc": 0, "seconds": 40}
{"step": "test_gpu_fused_norm", "rc": 1, "seconds": 12}
{"step": "torch_compile", "rc": "skipped: out of time"}
TXT
cat > "$work/a/test_gpu_fused_norm.json" <<'TXT'
{"tests": 3, "failures": 1, "disabled": 0, "testsuites": [{"name": "FusedNorm", "testsuite": [
 {"name": "Ok"}, {"name": "Broken", "failures": [{"failure": "x"}]}, {"name": "Ok2"}]}]}
TXT
r50='"arch": "resnet50", "size": 512, "batch": 64'
cat > "$work/a/cbednet_bench.jsonl" <<TXT
{"run": "bench_bf16_graph", "benchmark": "train_step", "precision": "bf16", $r50, "images_per_s": 1500.0, "peak_gib": 12.5, "cuda_graph": false}
{"run": "bench_bf16_graph_profile", "benchmark": "train_step", "precision": "bf16", $r50, "images_per_s": 3000.0, "profiled": true}
{"run": "infer_bf16_folded_graph", "benchmark": "inference", "precision": "bf16", $r50, "images_per_s": 3000.0}
{"run": "bench_bf16_graph_profile", "benchmark": "op_profile", "by_op": [{"op": "conv2d_forward", "ms": 10.0}, {"op": "conv2d_backward_filter", "ms": 20.0}, {"op": "batchnorm_add_backward", "ms": 4.0}, {"op": "sgd_update_segments", "ms": 1.0}, {"op": "axpy", "ms": 0.5}]}
TXT
echo '{"peer": "pytorch", "benchmark": "kernel_profile", "mode": "bf16cl", "kernel_ms_per_step": 30.0, "by_kind_ms_per_step": {"convolution_gemm": 20.0, "batch_norm": 8.0, "elementwise": 2.0}}' \
  > "$work/a/torch_kernel_profile.jsonl"
cat > "$work/a/torch_baseline.jsonl" <<TXT
{"peer": "pytorch", "mode": "bf16cl", "phase": "train", $r50, "img_per_s": 800.0, "peak_mem_gib": 14.0}
{"peer": "pytorch", "mode": "bf16cl", "phase": "infer", $r50, "img_per_s": 2500.0}
{"peer": "pytorch", "mode": "bf16cl-compile", "phase": "train", $r50, "img_per_s": 1000.0}
{"peer": "pytorch", "mode": "fp16cl", "batch": 64, "error": "oom"}
TXT
# Call B: fp16 and tf32 runs, packed as gpu-run.sh packs them; its bf16cl-compile row must not meet call A's lines.
cp "$work/a/machine.txt" "$work/b-files/"
echo '{"step": "bench_fp16_graph", "rc": 0, "seconds": 30}' > "$work/b-files/steps.jsonl"
cat > "$work/b-files/cbednet_bench.jsonl" <<TXT
{"run": "bench_fp16_graph", "benchmark": "train_step", "precision": "fp16", $r50, "images_per_s": 1000.0}
{"run": "bench_tf32_graph", "benchmark": "train_step", "precision": "tf32", $r50, "images_per_s": 500.0}
TXT
cat > "$work/b-files/torch_baseline.jsonl" <<TXT
{"peer": "pytorch", "mode": "fp16cl", "phase": "train", $r50, "img_per_s": 800.0}
{"peer": "pytorch", "mode": "tf32", "phase": "train", $r50, "img_per_s": 400.0}
{"peer": "pytorch", "mode": "bf16cl-compile", "phase": "train", $r50, "img_per_s": 100.0}
TXT
tar czf "$work/b/gpu-out.tar.gz" -C "$work/b-files" .

python3 "$root/scripts/gpu_summary.py" "$work/a" "$work/b" --out "$work/summary.md" --json "$work/verdicts.json" ||
  fail "gpu_summary.py failed"
grep -q "NVIDIA H200, 143771 MiB" "$work/summary.md" || fail "card not named"
grep -q "test_gpu_fused_norm | \*\*failed (1)\*\*" "$work/summary.md" || fail "failed step not flagged"
grep -q "failed: test_gpu_fused_norm.json: FusedNorm.Broken" "$work/summary.md" || fail "failed test not named"
grep -q "torch_compile | skipped: out of time" "$work/summary.md" || fail "skipped step not shown"
# The op profile by kind beside PyTorch's kernel profile of the same call (call B has none: nothing to set beside).
grep -q "| convolution_gemm | 30.00 | 20.00 | 1.50 |" "$work/summary.md" || fail "convolution breakdown wrong"
grep -q "| batch_norm | 4.00 | 8.00 | 0.50 |" "$work/summary.md" || fail "batch-norm breakdown wrong"
grep -q "| optimizer | 1.00 | - | - |" "$work/summary.md" || fail "optimizer breakdown wrong"
grep -q "| total | 35.50 | 30.00 | 1.18 |" "$work/summary.md" || fail "breakdown total wrong"
python3 - "$work/verdicts.json" <<'PY' || fail "wrong verdicts (above)"
import json, sys
v = json.load(open(sys.argv[1]))
t = {(x["precision"], x["mode"], x["phase"]): x for x in v["targets"]}
print(json.dumps(v))
assert abs(t[("bf16", "bf16cl-compile", "train")]["ratio"] - 1.5) < 1e-9, "compile ratio: call A only, not profiled"
assert t[("bf16", "bf16cl-compile", "train")]["met"] is True
assert abs(t[("bf16", "bf16cl", "infer")]["ratio"] - 1.2) < 1e-9 and t[("bf16", "bf16cl", "infer")]["met"] is False
assert abs(t[("fp16", "fp16cl", "train")]["ratio"] - 1.25) < 1e-9 and t[("fp16", "fp16cl", "train")]["met"] is False
assert abs(t[("tf32", "tf32", "train")]["ratio"] - 1.25) < 1e-9 and t[("tf32", "tf32", "train")]["met"] is True
assert v["memory"]["met"] is True and v["memory"]["peak_gib"] == 12.5 and v["memory"]["pytorch_peak_gib"] == 14.0
PY
rc=0
python3 "$root/scripts/gpu_summary.py" "$work/empty" > /dev/null 2> "$work/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q "none of gpu-run.sh's files" "$work/err" || fail "an empty folder was not refused (rc $rc)"
echo "gpu_summary: ratios per call, targets, memory, failures ok"
