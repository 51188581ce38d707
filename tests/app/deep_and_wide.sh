#!/usr/bin/env bash
# Issue 21 through the command line: the published pre-activation networks by name (parameter counts of
# `cbednet model`), a pre-activation network trained with LARS and evaluated, and LAMB with clipping by the global
# gradient norm on a 2x1 pipeline giving the 1x1 fp64 training loss (the norm is summed over both stages), and
# --recompute blocks on that pipeline giving bit-identical state; --recompute auto within a memory budget.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
"$CBEDNET" model --arch preresnet1001 --classes 10 --size 32 > r1001.txt
grep -q "total: 335 blocks, 10327706 parameters" r1001.txt || fail "preresnet1001: $(tail -1 r1001.txt)"
"$CBEDNET" model --arch preresnet200 --classes 1000 --size 224 > r200.txt
grep -q "64666280 parameters" r200.txt || fail "preresnet200: $(tail -1 r200.txt)"

args=(--data "$DATA" --arch preact-basic:1,1 --width 8 --stem small --log-scale --epochs 1 --batch 8 --seed 3
      --val-split none)
"$CBEDNET" train "${args[@]}" --optimizer lars --lr 1 --trust-coefficient 0.01 --out lars > lars.txt
grep -q "optimizer lars" lars.txt || fail "no optimizer line: $(cat lars.txt)"
"$CBEDNET" evaluate --checkpoint lars --data "$DATA" --split test > eval.txt
grep -q "pre-activation\|top-1 accuracy" eval.txt || fail "the pre-activation checkpoint does not evaluate"

lamb=("${args[@]}" --optimizer lamb --lr 0.01 --clip-grad-norm 0.1 --micro-batch-size 2 --precision fp64)
"$CBEDNET" train "${lamb[@]}" --out lamb-serial > /dev/null
mpirun2 "$CBEDNET" train "${lamb[@]}" --grid 2x1 --out lamb-piped > /dev/null
python3 - lamb-serial/metrics.csv lamb-piped/metrics.csv <<'PY' || fail "LAMB with clipping: 2x1 and 1x1 differ"
import sys
a, b = (open(f).read().splitlines()[1].split(",") for f in sys.argv[1:3])
assert abs(float(a[2]) - float(b[2])) <= 1e-9 * abs(float(a[2])), (a[2], b[2])
PY
h5diff -d 1e-12 lamb-serial/checkpoints/$(ls lamb-serial/checkpoints | tail -1) \
  lamb-piped/checkpoints/$(ls lamb-piped/checkpoints | tail -1) /parameters /parameters > /dev/null ||
  fail "LAMB with clipping: 2x1 and 1x1 parameters differ"
# Activation recomputation on the same 2x1 pipeline: bit-identical parameters, momentum and running statistics.
mpirun2 "$CBEDNET" train "${lamb[@]}" --grid 2x1 --recompute blocks --out lamb-recomputed > /dev/null
last=$(ls lamb-piped/checkpoints | tail -1)
for group in parameters momentum second_moment buffers; do
  h5diff -q lamb-piped/checkpoints/$last lamb-recomputed/checkpoints/$last /$group /$group ||
    fail "--recompute blocks: /$group differs"
done
# --recompute auto: a generous budget recomputes nothing; half of what keeping everything needs recomputes some
# blocks, bit-identically; a budget below the block inputs is refused naming the option.
fp64=("${args[@]}" --micro-batch-size 2 --precision fp64)
"$CBEDNET" train "${fp64[@]}" --recompute auto --activation-memory-gb 100 --out auto-all > auto-all.txt
grep -q "0 of [0-9]* blocks recomputed" auto-all.txt || fail "auto with a generous budget: $(grep recompute auto-all.txt)"
need=$(sed -n 's/.*GiB (\([0-9.e+-]*\) GiB without recomputation).*/\1/p' auto-all.txt)
half=$(python3 -c "print($need / 2)")
"$CBEDNET" train "${fp64[@]}" --recompute auto --activation-memory-gb "$half" --out auto-half > auto-half.txt
grep -q "[1-9][0-9]* of [0-9]* blocks recomputed" auto-half.txt || fail "auto, half budget: $(grep recompute auto-half.txt)"
"$CBEDNET" train "${fp64[@]}" --out auto-none > /dev/null
last=$(ls auto-none/checkpoints | tail -1)
for group in parameters momentum buffers; do
  h5diff -q auto-none/checkpoints/$last auto-half/checkpoints/$last /$group /$group ||
    fail "--recompute auto: /$group differs"
done
# On a 2x1 pipeline the balancer chooses the cuts and each stage's recomputed blocks together: still the serial run.
mpirun2 "$CBEDNET" train "${fp64[@]}" --grid 2x1 --recompute auto --activation-memory-gb "$half" --out auto-piped \
  > auto-piped.txt
grep -q "blocks recomputed" auto-piped.txt || fail "auto on 2x1: $(grep recompute auto-piped.txt)"
h5diff -d 1e-12 auto-none/checkpoints/$last auto-piped/checkpoints/$last /parameters /parameters > /dev/null ||
  fail "--recompute auto on 2x1: parameters differ from the serial run"
if "$CBEDNET" train "${fp64[@]}" --recompute auto --activation-memory-gb 1e-9 --out auto-tiny > tiny.txt 2>&1; then
  fail "a budget below the block inputs was accepted"
fi
grep -q -- "--activation-memory-gb" tiny.txt || fail "no message naming --activation-memory-gb: $(cat tiny.txt)"
echo "deep and wide: preresnet counts, LARS on a pre-activation network, LAMB + clipping on 2x1 = 1x1"
