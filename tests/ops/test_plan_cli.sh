#!/usr/bin/env bash
# cbednet plan end to end: tables and JSON for a DGX-like cluster, and clear errors for impossible requests.
set -euo pipefail
cbednet=$1
out=$("$cbednet" plan --nodes 2 --gpus-per-node 8 --arch resnet50 --size 512 --batch 1024)
echo "$out"
grep -q '^best: --grid [0-9]*x[0-9]* --micro-batch-size [0-9]*' <<<"$out"
json=$("$cbednet" plan --nodes 2 --gpus-per-node 8 --arch resnet50 --size 512 --batch 1024 --json)
python3 - "$json" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
best = r["best"]
assert best["P"] * best["D"] == 16, best
assert 1024 % best["D"] == 0 and (1024 // best["D"]) % best["micro_batch"] == 0, best
assert r["per_stage_count"][0]["images_per_s"] == best["images_per_s"]
assert all(p["memory_gib"] <= 80 * 0.9 for p in r["per_stage_count"])
# every candidate grid uses all 16 GPUs and P is a divisor of 8 or a multiple of it
assert all(p["P"] * p["D"] == 16 and (8 % p["P"] == 0 or p["P"] % 8 == 0) for p in r["per_stage_count"])
# 16 GPUs at ~780 img/s each: the plan must stay below perfect scaling and above half of it
assert 0.5 * 16 * 780 < best["images_per_s"] < 16 * 790, best
print("plan JSON ok:", best)
PY
# On 16 GiB cards, batch 64 per GPU of ResNet-152 does not fit without small micro-batches or pipelines.
small=$("$cbednet" plan --nodes 1 --gpus-per-node 4 --arch resnet152 --size 512 --batch 256 --memory-gib 16 --json)
python3 -c "import json,sys; b=json.loads(sys.argv[1])['best']; assert b['memory_gib'] <= 16*0.9, b; print('16 GiB ok:', b)" "$small"
err=$(mktemp)
trap 'rm -f "$err"' EXIT
if "$cbednet" plan --nodes 1 --gpus-per-node 8 --batch 12 --memory-gib 1 2>"$err"; then
  echo "expected a failure for 1 GiB cards"; exit 1
fi
cat "$err"
grep -q "fits 1 GiB" "$err"
echo "plan CLI ok"
