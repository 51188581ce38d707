#!/usr/bin/env bash
# The planner's predictions over 1 .. MAX GPUs (powers of two, GPUS_PER_NODE per node) as JSON lines in the
# format of sweep.sh (mode "planned-weak" / "planned-strong", best micro-batch per P), plus the CSV and PNG of
# scripts/plot_scaling.py. docs/planner.md's table and plot come from:
#   jobs/scaling/plan-sweep.sh docs/planner-scaling       (writes .jsonl, .csv, .png)
# Settings: CBEDNET, MAX (1024), GPUS_PER_NODE (8), ARCH (resnet50), SIZE (512), BATCH_PER_GPU (64: weak),
# STRONG_BATCH (1024: strong), DEPTHS ("1 2 4 8": P values reported), PLAN_ARGS (more `cbednet plan` options).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${1:?usage: plan-sweep.sh OUTPUT_PREFIX}
cbednet=${CBEDNET:-$(command -v cbednet || echo "$root/build/bin/cbednet")}
max=${MAX:-1024}
gpn=${GPUS_PER_NODE:-8}
: >"$prefix.jsonl"
for mode in weak strong; do
  for ((n = 1; n <= max; n *= 2)); do
    if ((n < gpn)); then nodes=1 g=$n; else nodes=$((n / gpn)) g=$gpn; fi
    if [[ $mode == weak ]]; then batch=$((${BATCH_PER_GPU:-64} * n)); else batch=${STRONG_BATCH:-1024}; fi
    # shellcheck disable=SC2086
    json=$("$cbednet" plan --nodes "$nodes" --gpus-per-node "$g" --arch "${ARCH:-resnet50}" --size "${SIZE:-512}" \
      --batch "$batch" --json --top 0 ${PLAN_ARGS:-} 2>/dev/null) || continue
    /usr/bin/python3 - "$json" "$mode" "$n" "${DEPTHS:-1 2 4 8}" >>"$prefix.jsonl" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); mode = sys.argv[2]; n = int(sys.argv[3]); depths = {int(x) for x in sys.argv[4].split()}
for p in r["per_stage_count"]:
    if p["P"] in depths:
        print(json.dumps({"mode": "planned-" + mode, "ranks": n, "P": p["P"], "D": p["D"], "status": "ok",
                          "batch": r["batch"], "micro_batch": p["micro_batch"], "images_per_s": round(p["images_per_s"], 1),
                          "ms_per_step": round(p["step_ms"], 2), "bubble": round(p["bubble"], 3),
                          "allreduce_ms": round(p["allreduce_ms"], 2), "memory_gib": round(p["memory_gib"], 1),
                          "arch": r["arch"], "size": r["size"]}))
PY
  done
done
/usr/bin/python3 "$root/scripts/plot_scaling.py" "$prefix.jsonl" --csv "$prefix.csv" --png "$prefix.png" \
  --title "cbednet plan: ${ARCH:-resnet50}@${SIZE:-512}, H100 bf16 model, $gpn GPUs/node (weak: ${BATCH_PER_GPU:-64}/GPU, strong: ${STRONG_BATCH:-1024})"
