#!/usr/bin/env bash
# Inference with batch norms folded into their convolutions (the default of evaluate and predict;
# docs/architecture.md, "Block"): the same metrics and predicted classes as with --fold-batch-norm off, probabilities
# equal to fp32 rounding, a line saying how many were folded; --cuda-graph on (eager on the CPU) gives the same
# metrics; bad values are refused naming the option; bench --mode infer runs only fused convolutions (no batch-norm
# pass) and says how many batch norms it folded.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
"$CBEDNET" train --data "$DATA" "${TINY[@]}" --epochs 1 --batch 16 --quiet --out run > train.txt ||
  { cat train.txt >&2; fail "train failed"; }

for fold in on off; do
  "$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --fold-batch-norm $fold --out "eval-$fold.json" \
    > "eval-$fold.txt" 2>&1 || { cat "eval-$fold.txt" >&2; fail "evaluate --fold-batch-norm $fold"; }
  "$CBEDNET" predict --checkpoint run --input "$DATA" --split test --fold-batch-norm $fold --format json \
    --out "pred-$fold.json" > /dev/null 2>&1 || fail "predict --fold-batch-norm $fold"
done
grep -q "6 batch norms folded into their convolutions" eval-on.txt || { cat eval-on.txt; fail "no fold line (on)"; }
grep -q "folded" eval-off.txt && fail "evaluate --fold-batch-norm off says it folded"
/usr/bin/python3 - <<'PY' || fail "folded and unfolded inference differ beyond rounding (above)"
import json
on, off = (json.load(open(f"eval-{m}.json"))["metrics"] for m in ("on", "off"))
for key in ("top1", "top5", "macro_f1", "balanced_accuracy", "samples"):
    assert on[key] == off[key], f"{key}: {on[key]} folded, {off[key]} unfolded"
def rows(m):
    data = json.load(open(f"pred-{m}.json"))
    return data if isinstance(data, list) else data["predictions"]
a, b = rows("on"), rows("off")
assert len(a) == len(b) > 0
worst = 0.0
for x, y in zip(a, b):
    assert x["predicted_space_group"] == y["predicted_space_group"], (x, y)
    for p, q in zip(x["top5"], y["top5"]):
        worst = max(worst, abs(p["probability"] - q["probability"]))
print(f"{len(a)} predictions, the same classes; largest probability difference {worst:.2e}")
assert worst < 1e-4, worst
PY

# --cuda-graph on: the forward recorded and replayed where the backend can (here, on the CPU, eager): the same metrics.
"$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --cuda-graph on --out eval-graph.json > /dev/null 2>&1 ||
  fail "evaluate --cuda-graph on"
/usr/bin/python3 -c "
import json
a, b = (json.load(open(f))['metrics'] for f in ('eval-on.json', 'eval-graph.json'))
assert all(a[k] == b[k] for k in ('top1', 'top5', 'macro_f1', 'samples')), (a, b)" || fail "--cuda-graph on changed the metrics"
"$CBEDNET" predict --checkpoint run --input "$DATA" --cuda-graph sometimes --out x.csv > bad.txt 2>&1 && fail "accepted"
grep -q -- "--cuda-graph: expected on or off, got 'sometimes'" bad.txt || { cat bad.txt; fail "bad --cuda-graph message"; }

"$CBEDNET" evaluate --checkpoint run --data "$DATA" --fold-batch-norm maybe > bad.txt 2>&1 && fail "bad value accepted"
grep -q -- "--fold-batch-norm: expected on or off, got 'maybe'" bad.txt || { cat bad.txt; fail "bad value message"; }

"$CBEDNET" bench --mode infer --arch basic:1,1 --width 8 --stem small --size 32 --batch 4 --steps 2 --warmup 1 --profile-ops --quiet \
  > infer.json 2> infer.err || { cat infer.err >&2; fail "bench --mode infer failed"; }
/usr/bin/python3 - infer.json <<'PY' || fail "bench --mode infer: wrong result (above)"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
result = next(d for d in lines if d.get("benchmark") == "inference")
calls = {o["op"]: o["calls"] for o in next(d for d in lines if d.get("benchmark") == "op_profile")["by_op"]}
print(result["folded_batch_norms"], "folded;", calls)
assert result["folded_batch_norms"] == 6 and result["logits_finite"] and result["images_per_s"] > 0
assert calls.get("conv2d_bias_act_forward") == 6, calls
assert "batchnorm_forward_inference" not in calls and "conv2d_forward" not in calls, calls
PY
echo "fold_batch_norm: ok"
