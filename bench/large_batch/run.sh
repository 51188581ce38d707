#!/usr/bin/env bash
# Issue 21 item 4: the large-batch recipe on the simulator. The same number of samples (EPOCHS epochs of the
# demo's dataset) with global batch B and 8B: plain SGD at B, and at 8B SGD with the linear scaling rule and a
# longer warm-up, LARS and LAMB. Each configuration is trained for every seed in SEEDS and evaluated on the
# material-disjoint test split; one JSON line per run goes to $OUT/runs.jsonl and a summary to stdout.
#   bash bench/large_batch/run.sh [configs-file]      (default: bench/large_batch/configs.txt)
# Environment: BUILD_DIR (build), OUT (bench/results/large-batch-2core), DATA (simulated there when missing),
# RANKS (2), SEEDS ("1 2"), EPOCHS (12).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cbednet=${BUILD_DIR:-$root/build}/bin/cbednet
configs=${1:-$root/bench/large_batch/configs.txt}
out=${OUT:-$root/bench/results/large-batch-2core}
data=${DATA:-$out/data}
ranks=${RANKS:-2}
seeds=${SEEDS:-"1 2"}
epochs=${EPOCHS:-12}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))}
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake).
source "${BUILD_DIR:-$root/build}/mpi-launcher.sh"
cbednet_mpiexec_argv "$ranks"
mpirun=("${CBEDNET_MPIEXEC_ARGV[@]}")
[[ -x $cbednet ]] || { echo "large-batch: no $cbednet (build first)" >&2; exit 1; }
mkdir -p "$out"
if [[ ! -d $data ]]; then  # the demo's dataset (scripts/demo.sh): 320 materials, 8 space groups, 64x64
  "${mpirun[@]}" "$cbednet" simulate --out "$data" --materials 320 --space-groups 2,14,62,139,166,194,225,227 \
    --size 64 --seed 2019 > /dev/null
fi
common=(--data "$data" --arch basic:1,1,1,1 --width 16 --epochs "$epochs" --weight-decay 5e-4 --label-smoothing 0.1
        --log-scale --log-every 1000 --quiet)
# configs: one per line, "name batch optimizer-options..." (# comments).
while read -r name batch options; do
  [[ -z $name || $name == \#* ]] && continue
  for seed in $seeds; do
    run="$out/runs/$name-seed$seed"
    if [[ -f $run/test-metrics.json ]]; then continue; fi  # resumable: finished runs are kept
    rm -rf "$run"
    start=$(date +%s)
    # shellcheck disable=SC2086 # the options are words
    "${mpirun[@]}" "$cbednet" train "${common[@]}" --batch "$batch" $options --seed "$seed" --out "$run" < /dev/null > /dev/null
    seconds=$(( $(date +%s) - start ))
    "${mpirun[@]}" "$cbednet" evaluate --checkpoint "$run" --data "$data" --split test \
      --out "$run/test-metrics.json.partial" < /dev/null > /dev/null
    mv "$run/test-metrics.json.partial" "$run/test-metrics.json"
    /usr/bin/python3 - "$run" "$name" "$batch" "$seed" "$seconds" "$options" >> "$out/runs.jsonl" <<'PY'
import csv, json, sys
run, name, batch, seed, seconds, options = sys.argv[1:7]
test = json.load(open(f"{run}/test-metrics.json"))["metrics"]
rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
last = rows[-1]
print(json.dumps({"config": name, "batch": int(batch), "seed": int(seed), "options": options,
                  "steps": int(last["global_step"]), "train_seconds": int(seconds),
                  "final_train_loss": float(last["train_loss"]),
                  "val_top1": float(last["val_top1"]) if last.get("val_top1") else None,
                  "test_top1": test["top1"], "test_top5": test["top5"], "test_macro_f1": test["macro_f1"]}))
PY
    tail -1 "$out/runs.jsonl"
  done
done < "$configs"
/usr/bin/python3 "$root/bench/large_batch/summarise.py" "$out/runs.jsonl" > "$out/table.md"
cat "$out/table.md"
