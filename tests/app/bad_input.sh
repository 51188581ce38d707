#!/usr/bin/env bash
# Bad input gives a clear message naming the culprit and a non-zero exit (no crash signal), and leaves no run
# directory behind.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
n=0
expect_failure() {  # culprit, then the command
  local culprit=$1; shift
  local out=$SCRATCH/out.txt rc=0
  timeout 120 "$@" > "$out" 2>&1 || rc=$?
  n=$((n + 1))
  [[ $rc -ne 0 ]] || fail "case $n succeeded: $*"
  [[ $rc -lt 124 ]] || fail "case $n crashed or hung (exit $rc): $*"
  grep -qi -- "$culprit" "$out" || { cat "$out" >&2; fail "case $n: message does not name '$culprit': $*"; }
  [[ ! -e run ]] || fail "case $n left a run directory: $*"
}
SMALL=(--width 8 --stem small --log-scale --log-every 1000)
base=(--data "$DATA" "${TINY[@]}" --out run)
expect_failure "--epochs" "$CBEDNET" train "${base[@]}" --epochs -1
expect_failure "--batch" "$CBEDNET" train "${base[@]}" --batch 0
expect_failure "resnet51" "$CBEDNET" train --data "$DATA" "${SMALL[@]}" --out run --arch resnet51
expect_failure "--precision" "$CBEDNET" train "${base[@]}" --precision fp8
expect_failure "cuda" "$CBEDNET" train "${base[@]}" --device cuda
expect_failure "/nonexistent" "$CBEDNET" train --data /nonexistent "${TINY[@]}" --out run
expect_failure "unrecognised\|unrecognized" "$CBEDNET" train "${base[@]}" --bogus-option 3
expect_failure "--grid" "$CBEDNET" train "${base[@]}" --grid 2x3
expect_failure "--micro-batch-size" "$CBEDNET" train "${base[@]}" --batch 8 --micro-batch-size 3
expect_failure "--resume" "$CBEDNET" train "${base[@]}" --resume
expect_failure "--optimizer" "$CBEDNET" train "${base[@]}" --optimizer adam
expect_failure "preresnet1000" "$CBEDNET" train --data "$DATA" "${SMALL[@]}" --out run --arch preresnet1000
expect_failure "--lr" "$CBEDNET" train "${base[@]}" --lr -0.1
expect_failure "--beta1" "$CBEDNET" train "${base[@]}" --optimizer adamw --beta1 1
expect_failure "--beta2" "$CBEDNET" train "${base[@]}" --optimizer lamb --beta2 -0.5
expect_failure "--trust-coefficient" "$CBEDNET" train "${base[@]}" --optimizer lars --trust-coefficient 0
expect_failure "--clip-grad-norm" "$CBEDNET" train "${base[@]}" --clip-grad-norm -1
expect_failure "--ema-decay" "$CBEDNET" train "${base[@]}" --ema-decay 1
expect_failure "--activation-memory-gb" "$CBEDNET" train "${base[@]}" --recompute auto
expect_failure "--recompute auto" "$CBEDNET" train "${base[@]}" --activation-memory-gb 2
expect_failure "--recompute" "$CBEDNET" train "${base[@]}" --recompute sometimes
expect_failure "--conv-api" "$CBEDNET" train "${base[@]}" --conv-api fastest
expect_failure "unknown subcommand" "$CBEDNET" frobnicate
printf 'not hdf5' > junk.h5
expect_failure "junk.h5" "$CBEDNET" train --data junk.h5 "${TINY[@]}" --out run
expect_failure "--config" "$CBEDNET" train --config /nonexistent.ini --out run
# A negative value for an unsigned option is refused, not wrapped to 2^64 - 1 (Boost reads it so without a word).
expect_failure "--seed: must not be negative, got '-1'" "$CBEDNET" train "${base[@]}" --seed -1
printf 'seed = -2\n' > negative.ini
expect_failure "--config negative.ini: --seed: must not be negative" "$CBEDNET" train "${base[@]}" --config negative.ini
expect_failure "--seed: must not be negative" "$CBEDNET" simulate --seed=-3 --materials 1 --size 16 --out sim
[[ ! -e sim ]] || fail "simulate with a negative --seed wrote sim/"
# More classes in the data than the model has.
expect_failure "--classes" "$CBEDNET" train "${base[@]}" --classes 5
# A checkpoint of another architecture (resume) or input size (evaluate).
"$CBEDNET" train --data "$DATA" "${TINY[@]}" --out other-run --max-steps 1 --val-split none > /dev/null
expect_failure "holds basic:1,1" "$CBEDNET" train --data "$DATA" "${SMALL[@]}" --arch basic:1 --out other-run --resume
"$CBEDNET" convert --in "$DATA" --split test --size 16 --log-scale --out small.h5 > /dev/null
expect_failure "small.h5" "$CBEDNET" evaluate --checkpoint other-run --data small.h5 --split test
# --conv-api is a cuda choice: a CPU device accepts every valid value and ignores it (one config file for both).
"$CBEDNET" bench --device cpu --arch basic:1 --width 8 --stem small --size 16 --batch 2 --steps 1 --warmup 0 \
  --conv-api graph --quiet > bench.json || fail "bench --device cpu --conv-api graph failed"
grep -q '"images_per_s"' bench.json || fail "bench --conv-api graph on cpu printed no result"
echo "bad input: $n cases, each a clear non-zero exit"
