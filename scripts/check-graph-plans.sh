#!/usr/bin/env bash
# Without a GPU: cuDNN (deviceless plans, 9.8+) still builds execution plans for the cuDNN graphs the CUDA backend
# makes, on the H100 profile (bench/gpu/cbednet_graph_plans.cpp). Two sets of calls:
#   ResNet-50 at 512², batch 64 (issue 20's benchmark), bf16 and fp16;
#   the GPU tests' aligned shapes (bench/gpu/calls/gpu-tests.txt) in every mode those tests run, so that what they
#   expect cuDNN to take (tests/gpu/cuda_conv_graph_test.cpp, cuda_fused_norm_test.cpp) is known to hold before a
#   device run.
# Fails when a graph that cuDNN 9.19 accepted at the last check is refused: every plain convolution (forward, data
# and filter gradients) and every folded inference convolution, and in fp16 the fused batch-norm graphs (genstats,
# norm+ReLU wgrad). What is refused by design (no pre-compiled engine) is printed, not checked.
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
plans() {  # plans NAME ARGS...: one run of the tool into $out/NAME.jsonl
  local name=$1; shift
  "$tool" --profile "$profile" "$@" > "$out/$name.jsonl" 2> "$out/$name.err" || {
    cat "$out/$name.err" >&2
    echo "check-graph-plans: cbednet-graph-plans $* failed" >&2
    exit 1
  }
}
plans resnet50-bf16 --precision bf16
plans resnet50-fp16 --precision fp16
for mode in fp32:nhwc fp32:nchw tf32:nhwc bf16:nhwc fp16:nhwc; do
  plans "tests-${mode/:/-}" --calls bench/gpu/calls/gpu-tests.txt --precision "${mode%:*}" --layout "${mode#*:}"
done
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
plain = {"conv2d_forward", "conv2d_backward_data", "conv2d_backward_filter", "conv2d_bias_act_forward"}
normconv = {"conv2d_stats_forward", "conv2d_backward_filter_norm_relu"}
failed = False
for path in sorted(glob.glob(f"{sys.argv[1]}/*.jsonl")):
    name = os.path.basename(path)[:-len(".jsonl")]
    lines = [json.loads(l) for l in open(path)]
    ops = plain | (normconv if name.endswith("fp16") else set())
    print(f"check-graph-plans {name}: {json.dumps(lines[-1]['summary'])}")
    seen = set()
    for r in lines[:-1]:
        seen.add(r["op"])
        if r["op"] in ops and r["path"] != "graph":
            failed = True
            print(f"  REFUSED {r['layer']}: {r['reason']}", file=sys.stderr)
    if ops - seen:
        failed = True
        print(f"  no call of {sorted(ops - seen)} was recorded", file=sys.stderr)
sys.exit(1 if failed else 0)
PY
echo "check-graph-plans: every graph cuDNN accepted before still gets plans"
