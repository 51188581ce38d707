#!/usr/bin/env bash
# bench --profile-ops: the op_profile line counts backend operations per step, and the parameter update of a step is
# ONE flat-buffer SGD operation (not one per parameter) and the batch-norm running statistics one operation
# (docs/gpu-backend.md, "Fewer launches").
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"

"$CBEDNET" bench --arch basic:1,1 --width 4 --stem small --size 32 --batch 4 --steps 3 --warmup 1 --profile-ops \
  > bench.json 2> bench.err || { cat bench.err >&2; fail "bench --profile-ops failed"; }
/usr/bin/python3 - bench.json <<'PY' || fail "op_profile: wrong operation counts (see above)"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
profile = [d for d in lines if d.get("benchmark") == "op_profile"]
assert len(profile) == 1, f"expected one op_profile line, got {len(profile)}"
p = profile[0]
calls = {o["op"]: o["calls"] for o in p["by_op"]}
print("ops_per_step", p["ops_per_step"], calls)
assert p["ops_per_step"] == sum(calls.values()), "ops_per_step is not the sum of the calls per step"
assert calls.get("sgd_update_segments") == 1, "not one SGD operation per step"
assert "sgd_update" not in calls, "per-parameter SGD updates"
assert calls.get("fold_running_statistics") == 1, "not one operation for the batch-norm running statistics"
assert "scale" not in calls, "per-layer running-statistics updates"
PY
echo "bench_profile: one SGD operation and one running-statistics operation per step ok"
