#!/usr/bin/env bash
# Loss scaling (core/optim/loss_scaler.hpp) on CPU ranks: a power-of-two scale, fixed or dynamic, changes no bit of
# training (fp64 and fp32); the dynamic scale is checkpointed and continues after --resume; overflows halve it
# down to the minimum, after which --nonfinite decides; a bad --loss-scale is refused naming the option.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
base=(--data "$DATA" "${TINY[@]}" --epochs 1 --batch 8 --val-split none --seed 3)
scale_of() { h5dump -a /state/loss_scale "$1" | grep -oE '\(0\): [0-9.e+]+' | sed 's/(0): //'; }

for precision in fp64 fp32; do
  run=("${base[@]}" --precision "$precision" --max-steps 9)
  "$CBEDNET" train "${run[@]}" --loss-scale none --out none-$precision > /dev/null
  "$CBEDNET" train "${run[@]}" --loss-scale 1024 --out fixed-$precision > /dev/null
  "$CBEDNET" train "${run[@]}" --loss-scale dynamic --loss-scale-init 256 --loss-scale-interval 2 \
    --out dynamic-$precision > dynamic-$precision.log
  grep -q "loss scaling: dynamic, scale 256" dynamic-$precision.log || fail "$precision: no loss-scaling line"
  last=checkpoints/ckpt-00000009.h5
  for other in fixed dynamic; do
    for group in parameters momentum buffers; do
      h5diff -q "none-$precision/$last" "$other-$precision/$last" /$group /$group ||
        fail "$precision: /$group differs between no loss scaling and $other scaling"
    done
  done
  # 9 finite steps, doubling every 2: 256 * 2^4
  [[ $(scale_of "dynamic-$precision/$last") == 4096 ]] || fail "$precision: checkpointed scale $(scale_of "dynamic-$precision/$last"), expected 4096"
done

# The scale survives a resume: 5 steps, then resumed to 9, ends where the uninterrupted run ends.
dyn=("${base[@]}" --precision fp32 --loss-scale dynamic --loss-scale-init 256 --loss-scale-interval 2)
"$CBEDNET" train "${dyn[@]}" --max-steps 5 --out parts > /dev/null
[[ $(scale_of parts/checkpoints/ckpt-00000005.h5) == 1024 ]] || fail "scale after 5 steps: $(scale_of parts/checkpoints/ckpt-00000005.h5)"
"$CBEDNET" train "${dyn[@]}" --max-steps 9 --out parts --resume > /dev/null
[[ $(scale_of parts/checkpoints/ckpt-00000009.h5) == 4096 ]] || fail "resumed scale $(scale_of parts/checkpoints/ckpt-00000009.h5), expected 4096"

# Divergence (lr 1e30): every later step overflows; the scale halves per step from 8 to 1, then --nonfinite stop.
rc=0
"$CBEDNET" train "${base[@]}" --precision fp32 --lr 1e30 --max-steps 12 --loss-scale dynamic --loss-scale-init 8 \
  --out diverge > diverge.log 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || { cat diverge.log >&2; fail "a diverging run should end with an error (exit $rc)"; }
for s in 8 4 2; do
  grep -q "overflowed at loss scale $s; step skipped, scale now $((s / 2))" diverge.log ||
    { cat diverge.log >&2; fail "no overflow at scale $s"; }
done
grep -q "non-finite loss or gradients at global step" diverge.log || { cat diverge.log >&2; fail "no stop at scale 1"; }

for bad in 1000 foo 0; do
  rc=0
  "$CBEDNET" train "${base[@]}" --loss-scale "$bad" --out bad > bad.log 2>&1 || rc=$?
  [[ $rc -ne 0 ]] && grep -q -- "--loss-scale" bad.log || { cat bad.log >&2; fail "--loss-scale $bad was not refused"; }
done
echo "loss scaling: exact, checkpointed, backs off, bad values refused"
