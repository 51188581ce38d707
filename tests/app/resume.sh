#!/usr/bin/env bash
# An interrupted and resumed run ends with bit-identical parameters, momentum and batch-norm statistics to an
# uninterrupted one (CPU, fixed seed), with dropout and random projections on, in fp32 and fp64; and with the
# adaptive optimizers' state too (LAMB and AdamW second moments, the moving average of the weights, clipping on).
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
variants=("fp32" "fp64" "fp32 lamb --optimizer lamb --lr 0.01 --clip-grad-norm 1 --ema-decay 0.9"
          "fp64 adamw --optimizer adamw --lr 0.001 --clip-grad-norm 0.5 --ema-decay 0.99")
for variant in "${variants[@]}"; do
  read -r precision name extra <<< "$variant"
  name=${name:-sgd}
  run=$precision-$name
  groups=(parameters momentum buffers)
  [[ -n "${extra:-}" ]] && groups+=(second_moment ema)
  # shellcheck disable=SC2206 # the extra options are words on purpose
  args=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 8 --dropout 0.2 --views random --seed 7 --precision "$precision"
        --val-split none ${extra:-})
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out whole-$run > /dev/null
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out parts-$run --max-steps 13 > /dev/null
  OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out parts-$run --resume > resumed.txt
  grep -q "resumed from" resumed.txt || fail "no resume message"
  last=$(ls whole-$run/checkpoints | tail -1)
  [[ -f parts-$run/checkpoints/$last ]] || fail "resumed run has no $last"
  for group in "${groups[@]}"; do
    h5diff -q "whole-$run/checkpoints/$last" "parts-$run/checkpoints/$last" /$group /$group ||
      fail "$run: /$group differs after resume"
  done
  cut -d, -f1-5 whole-$run/metrics.csv > a.csv
  cut -d, -f1-5 parts-$run/metrics.csv > b.csv
  cmp -s a.csv b.csv || fail "$run: per-epoch training metrics differ after resume"
done
# A checkpoint without the state a run keeps (SGD's, resumed as LAMB) is refused, naming the option.
args=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 8 --dropout 0.2 --views random --seed 7 --precision fp32
      --val-split none --resume --optimizer lamb)
if OMP_NUM_THREADS=2 "$CBEDNET" train "${args[@]}" --out parts-fp32-sgd > wrong.txt 2>&1; then
  fail "an SGD checkpoint resumed as LAMB"
fi
grep -q -- "--optimizer lamb" wrong.txt || fail "no message naming --optimizer: $(cat wrong.txt)"
# evaluate takes a run's moving average of the weights when it has one.
"$CBEDNET" evaluate --checkpoint whole-fp32-lamb --data "$DATA" --split train > evaluated.txt
grep -q "moving average" evaluated.txt || fail "evaluate did not use the weight average: $(cat evaluated.txt)"
echo "resume: bit-identical"
