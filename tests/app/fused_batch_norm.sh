#!/usr/bin/env bash
# Training through the fused batch-norm operations (--fused-batch-norm on; docs/architecture.md, "Fused batch norm"):
# the same per-epoch losses and accuracies as the unfused path to rounding (fp64 on the CPU, micro-batches of 8), on
# one rank and on a 2x1 pipeline, and resumed unfused from a fused run's checkpoint; bench says how many blocks took
# the fused path; a bad value is refused naming the option.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 16 --micro-batch-size 8 --precision fp64 --quiet)
for fused in on off; do
  "$CBEDNET" train "${args[@]}" --fused-batch-norm $fused --out "run-$fused" > "train-$fused.txt" 2>&1 ||
    { cat "train-$fused.txt" >&2; fail "train --fused-batch-norm $fused"; }
done
# A checkpoint holds the same tensors either way: the first epoch fused, resumed unfused, ends as the unfused run.
"$CBEDNET" train "${args[@]}" --max-steps 7 --fused-batch-norm on --out run-mixed > mixed.txt 2>&1 ||
  { cat mixed.txt >&2; fail "train --max-steps 7 --fused-batch-norm on"; }
"$CBEDNET" train "${args[@]}" --fused-batch-norm off --resume --out run-mixed > mixed.txt 2>&1 ||
  { cat mixed.txt >&2; fail "resume with --fused-batch-norm off"; }
mpirun2 "$CBEDNET" train "${args[@]}" --grid 2x1 --fused-batch-norm on --out run-grid \
  > train-grid.txt 2>&1 || { cat train-grid.txt >&2; fail "train --grid 2x1 --fused-batch-norm on"; }
/usr/bin/python3 - <<'PY' || fail "fused and unfused training differ beyond rounding (above)"
import json
def epochs(run):
    rows = [json.loads(line) for line in open(f"{run}/metrics.jsonl") if line.strip()]
    return [r for r in rows if "train_loss" in r]
on, off, grid, mixed = epochs("run-on"), epochs("run-off"), epochs("run-grid"), epochs("run-mixed")
assert len(on) == len(off) == len(grid) == 2 and len(mixed) >= 1, (len(on), len(off), len(grid), len(mixed))
last = mixed[-1]
assert last["epoch"] == 2 and abs(last["train_loss"] - off[1]["train_loss"]) <= 1e-9 * abs(off[1]["train_loss"]), (
    "resumed unfused after a fused epoch", last, off[1])
for a, b, c in zip(on, off, grid):
    for key in ("train_loss", "val_loss"):
        if key in a:
            assert abs(a[key] - b[key]) <= 1e-9 * abs(b[key]), (key, a[key], b[key])
            assert abs(c[key] - b[key]) <= 1e-9 * abs(b[key]), (key, c[key], b[key])
    for key in ("train_top1", "val_top1"):
        if key in a:
            assert a[key] == b[key] == c[key], (key, a[key], b[key], c[key])
print("fused, unfused and the fused 2x1 pipeline agree:", [(r["train_loss"]) for r in on])
PY

"$CBEDNET" bench --arch basic:1,1 --width 8 --stem small --size 32 --batch 4 --steps 1 --warmup 0 --quiet \
  --fused-batch-norm on > bench.json 2> bench.err || { cat bench.err >&2; fail "bench --fused-batch-norm on"; }
/usr/bin/python3 -c "
import json
r = next(json.loads(l) for l in open('bench.json') if '\"train_step\"' in l)
assert r['fused_batch_norm_blocks'] == 2, r" || { cat bench.json; fail "bench: fused_batch_norm_blocks"; }

"$CBEDNET" train "${args[@]}" --fused-batch-norm yes --out bad > bad.txt 2>&1 && fail "a bad value was accepted"
grep -q -- "--fused-batch-norm: expected on or off, got 'yes'" bad.txt || { cat bad.txt; fail "bad value message"; }

