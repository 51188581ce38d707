#!/usr/bin/env bash
# An interrupted and resumed run ends with bit-identical parameters, momentum and batch-norm statistics to an
# uninterrupted one (CPU, fixed seed), with dropout and random projections on, in fp32 and fp64.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
for precision in fp32 fp64; do
  args=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 8 --dropout 0.2 --views random --seed 7 --precision "$precision"
        --val-split none)
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out whole-$precision > /dev/null
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out parts-$precision --max-steps 13 > /dev/null
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out parts-$precision --resume > resumed.txt
  grep -q "resumed from" resumed.txt || fail "no resume message"
  last=$(ls whole-$precision/checkpoints | tail -1)
  [[ -f parts-$precision/checkpoints/$last ]] || fail "resumed run has no $last"
  for group in parameters momentum buffers; do
    h5diff -q "whole-$precision/checkpoints/$last" "parts-$precision/checkpoints/$last" /$group /$group ||
      fail "$precision: /$group differs after resume"
  done
  cut -d, -f1-5 whole-$precision/metrics.csv > a.csv
  cut -d, -f1-5 parts-$precision/metrics.csv > b.csv
  cmp -s a.csv b.csv || fail "$precision: per-epoch training metrics differ after resume"
done
echo "resume: bit-identical"
