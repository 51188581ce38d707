#!/usr/bin/env bash
# bench --mode infer --cuda-graph on: on the CPU (nothing can be recorded) it runs the eager forward and says so
# with "cuda_graph": false, logits finite; with --profile-ops it is refused naming both options; a bad value and
# --mode train are refused naming the option. (The recorded CUDA graph itself: tests/gpu/cuda_graph_test.cpp.)
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
bench=(bench --arch basic:1,1 --width 8 --stem small --size 32 --batch 4 --steps 2 --warmup 1 --quiet)

"$CBEDNET" "${bench[@]}" --mode infer --cuda-graph on > graph.json 2> graph.err ||
  { cat graph.err >&2; fail "bench --mode infer --cuda-graph on failed"; }
"$CBEDNET" "${bench[@]}" --mode infer > eager.json 2> eager.err ||
  { cat eager.err >&2; fail "bench --mode infer failed"; }
/usr/bin/python3 - graph.json eager.json <<'PY' || fail "bench --mode infer --cuda-graph: wrong result (above)"
import json, sys
def result(path):
    return next(d for d in (json.loads(l) for l in open(path) if l.strip()) if d.get("benchmark") == "inference")
graph, eager = result(sys.argv[1]), result(sys.argv[2])
print("graph:", graph["cuda_graph"], graph["images_per_s"], "eager:", eager["cuda_graph"], eager["images_per_s"])
assert graph["cuda_graph"] is False and eager["cuda_graph"] is False, (graph, eager)
assert graph["logits_finite"] and graph["images_per_s"] > 0 and graph["folded_batch_norms"] == 6, graph
PY

"$CBEDNET" "${bench[@]}" --mode infer --cuda-graph on --profile-ops > refused.txt 2>&1 &&
  fail "--cuda-graph on --profile-ops accepted"
grep -q -- "--cuda-graph on: not with --profile-ops" refused.txt || { cat refused.txt; fail "refusal message"; }
"$CBEDNET" "${bench[@]}" --mode infer --cuda-graph maybe > bad.txt 2>&1 && fail "--cuda-graph maybe accepted"
grep -q -- "--cuda-graph: expected on or off, got 'maybe'" bad.txt || { cat bad.txt; fail "bad value message"; }
"$CBEDNET" "${bench[@]}" --cuda-graph on > train.txt 2>&1 && fail "--cuda-graph on with --mode train accepted"
grep -q -- "--cuda-graph on: only with --mode infer" train.txt || { cat train.txt; fail "mode message"; }
echo "bench_infer_graph: ok"
