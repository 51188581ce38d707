#!/usr/bin/env bash
# bench --mode infer --cuda-graph on: on the CPU (nothing can be recorded) it runs the eager forward and says so
# with "cuda_graph": false, logits finite; with --profile-ops it is refused naming both options; a bad value is
# refused naming the option. --mode train --cuda-graph on runs the training step through TrainingGraph (eager on the
# CPU: "cuda_graph": false, the eager step's last loss) and is refused with --grid and --profile-ops. (The recorded
# CUDA graphs themselves: tests/gpu/cuda_graph_test.cpp and training_graph_test.cpp.)
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

# --mode train --cuda-graph on (TrainingGraph): eager on the CPU too, "cuda_graph": false, the same last loss as
# the eager train_step to rounding (the graph adds the losses in the parameter dtype on the device, fp32 here).
"$CBEDNET" "${bench[@]}" --micro-batch 2 --cuda-graph on > train_graph.json 2> train_graph.err ||
  { cat train_graph.err >&2; fail "bench --mode train --cuda-graph on failed"; }
"$CBEDNET" "${bench[@]}" --micro-batch 2 > train_eager.json 2> train_eager.err ||
  { cat train_eager.err >&2; fail "bench --mode train failed"; }
/usr/bin/python3 - train_graph.json train_eager.json <<'PY' || fail "bench --mode train --cuda-graph: wrong result (above)"
import json, sys
def result(path):
    return next(d for d in (json.loads(l) for l in open(path) if l.strip()) if d.get("benchmark") == "train_step")
graph, eager = result(sys.argv[1]), result(sys.argv[2])
print("train graph:", graph["cuda_graph"], graph["images_per_s"], graph["last_loss"], "eager:", eager["last_loss"])
assert graph["cuda_graph"] is False and eager["cuda_graph"] is False, (graph, eager)
assert graph["images_per_s"] > 0 and graph["micro_batch"] == 2, graph
assert abs(graph["last_loss"] - eager["last_loss"]) <= 1e-5 * abs(eager["last_loss"]), (graph, eager)
PY
"$CBEDNET" "${bench[@]}" --cuda-graph on --grid 1x1 > grid.txt 2>&1 && fail "--cuda-graph on with --grid accepted"
grep -q -- "--cuda-graph on: one rank's step or forward; not with --grid" grid.txt || { cat grid.txt; fail "grid message"; }
"$CBEDNET" "${bench[@]}" --cuda-graph on --profile-ops > train_refused.txt 2>&1 &&
  fail "--mode train --cuda-graph on --profile-ops accepted"
grep -q -- "--cuda-graph on: not with --profile-ops" train_refused.txt || { cat train_refused.txt; fail "train refusal"; }
echo "bench_infer_graph: ok"
