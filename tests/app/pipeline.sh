#!/usr/bin/env bash
# Training with pipeline stages through the command line: --grid 2x1 on 2 ranks gives the same fp64 training
# losses as --grid 1x1 with the same micro-batch size (to rounding), its gathered checkpoint evaluates, and an
# interrupted 2x1 run resumes bit-identically.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 1 --batch 8 --micro-batch-size 2 --seed 5 --precision fp64 --val-split none)
"$CBEDNET" train "${args[@]}" --out serial > /dev/null
mpirun2 "$CBEDNET" train "${args[@]}" --grid 2x1 --out piped > piped.txt
grep -q "grid 2x1" piped.txt || fail "no 2x1 grid reported"
python3 - serial/metrics.csv piped/metrics.csv <<'PY' || fail "2x1 and 1x1 training losses differ"
import sys
a, b = (open(f).read().splitlines()[1].split(",") for f in sys.argv[1:3])
loss_a, loss_b = float(a[2]), float(b[2])
assert abs(loss_a - loss_b) <= 1e-9 * abs(loss_a), (loss_a, loss_b)
PY
"$CBEDNET" evaluate --checkpoint piped --data "$DATA" --split test --precision fp64 > eval.txt
grep -q "top-1 accuracy" eval.txt || fail "the gathered pipeline checkpoint does not evaluate"

mpirun2 "$CBEDNET" train "${args[@]}" --grid 2x1 --out parts --max-steps 5 > /dev/null
mpirun2 "$CBEDNET" train "${args[@]}" --grid 2x1 --out parts --resume > /dev/null
last=$(ls piped/checkpoints | tail -1)
for group in parameters momentum buffers; do
  h5diff -q "piped/checkpoints/$last" "parts/checkpoints/$last" /$group /$group || fail "2x1 resume: /$group differs"
done
echo "pipeline through the CLI: ok"
