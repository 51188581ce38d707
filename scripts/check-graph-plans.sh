#!/usr/bin/env bash
# Without a GPU: cuDNN (deviceless plans, 9.8+) still builds execution plans for the cuDNN graphs the CUDA backend
# makes for ResNet-50 at 512², batch 64, on the H100 profile (bench/gpu/cbednet_graph_plans.cpp). Fails when a graph
# that cuDNN 9.19 accepted at the last check is refused: every plain convolution (forward, data and filter
# gradients) and every folded inference convolution in bf16 and fp16, and the fp16 fused batch-norm graphs
# (genstats, norm+ReLU wgrad). What is refused by design (no pre-compiled engine) is printed, not checked.
#   bash scripts/check-graph-plans.sh [BUILD_DIR (build-cuda)] [PROFILE (bench/gpu/profiles/h100-sxm5-80gb.json)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cuda}
profile=${2:-bench/gpu/profiles/h100-sxm5-80gb.json}
tool="$build/bin/cbednet-graph-plans"
[[ -x "$tool" ]] || { echo "check-graph-plans: no $tool (build the CUDA configuration first)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for precision in bf16 fp16; do
  "$tool" --profile "$profile" --precision "$precision" > "$out/$precision.jsonl" 2> "$out/$precision.err" || {
    cat "$out/$precision.err" >&2
    echo "check-graph-plans: cbednet-graph-plans failed for $precision" >&2
    exit 1
  }
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
must = {
    "bf16": {"conv2d_forward", "conv2d_backward_data", "conv2d_backward_filter", "conv2d_bias_act_forward"},
    "fp16": {"conv2d_forward", "conv2d_backward_data", "conv2d_backward_filter", "conv2d_bias_act_forward",
             "conv2d_stats_forward", "conv2d_backward_filter_norm_relu"},
}
failed = False
for precision, ops in must.items():
    lines = [json.loads(l) for l in open(f"{sys.argv[1]}/{precision}.jsonl")]
    summary = lines[-1]
    print(f"check-graph-plans {precision}: {json.dumps(summary['summary'])}")
    seen = set()
    for r in lines[:-1]:
        seen.add(r["op"])
        if r["op"] in ops and r["path"] != "graph":
            failed = True
            print(f"  REFUSED {r['layer']}: {r['reason']}", file=sys.stderr)
    missing = ops - seen
    if missing:
        failed = True
        print(f"  no call of {sorted(missing)} was recorded", file=sys.stderr)
sys.exit(1 if failed else 0)
PY
echo "check-graph-plans: every graph cuDNN accepted before still gets plans"
