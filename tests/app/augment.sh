#!/usr/bin/env bash
# Issue 21 item 5 through the command line: training with physics-respecting augmentation (exposure, shot noise,
# detector offset) is a pure function of (seed, epoch, sample): 1x2 data parallelism gives the serial fp64 result,
# a stopped and resumed run gives the uninterrupted run's state bit for bit, and it changes what is learnt.
# Out-of-range options are refused naming the option.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
plain=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 8 --micro-batch-size 4 --seed 5 --val-split none --precision fp64)
args=("${plain[@]}" --augment-exposure 0.3 --augment-dose 1e5 --augment-shift 2)
"$CBEDNET" train "${args[@]}" --out serial > serial.txt
grep -q "augmentation (training batches) exposure=0.3;dose=100000;shift=2" serial.txt ||
  fail "no augmentation line in the log: $(cat serial.txt)"
last=$(ls serial/checkpoints | tail -1)

mpirun2 "$CBEDNET" train "${args[@]}" --grid 1x2 --out replicas > /dev/null
h5diff -d 1e-12 serial/checkpoints/$last replicas/checkpoints/$last /parameters /parameters > /dev/null ||
  fail "augmented training: 1x2 and 1x1 parameters differ"

"$CBEDNET" train "${args[@]}" --max-steps 3 --out resumed > /dev/null
"$CBEDNET" train "${args[@]}" --out resumed --resume > /dev/null
for group in parameters momentum buffers; do
  h5diff -q serial/checkpoints/$last resumed/checkpoints/$last /$group /$group ||
    fail "augmented training: the resumed run's /$group differs from the uninterrupted run's"
done

"$CBEDNET" train "${plain[@]}" --out plain > /dev/null
if h5diff -q serial/checkpoints/$last plain/checkpoints/$last /parameters /parameters > /dev/null; then
  fail "augmentation changed nothing"
fi

for bad in "--augment-exposure -1:--augment-exposure" "--augment-dose 0.5:--augment-dose" \
  "--augment-shift 16:--augment-shift"; do
  option=${bad%%:*}
  # shellcheck disable=SC2086 # the option and its value are two words
  if "$CBEDNET" train "${plain[@]}" $option --out bad > bad.txt 2>&1; then fail "$option was accepted"; fi
  grep -q -- "${bad##*:}" bad.txt || fail "$option: no message naming it: $(cat bad.txt)"
done
echo "augmentation: 1x2 = 1x1, resume bit-identical, bad values named"
