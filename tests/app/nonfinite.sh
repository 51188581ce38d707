#!/usr/bin/env bash
# A NaN/Inf loss or gradient stops training with a message naming the step (default), or skips the step.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 1 --batch 8 --val-split none --lr 1e30 --max-steps 6)
rc=0
"$CBEDNET" train "${args[@]}" --out stop > stop.log 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] || fail "a diverging run should stop with an error (exit $rc)"
grep -q "non-finite loss or gradients at global step" stop.log || { cat stop.log >&2; fail "no message naming the step"; }
"$CBEDNET" train "${args[@]}" --out skip --nonfinite skip > skip.log 2>&1 || { cat skip.log >&2; fail "skip failed"; }
grep -q "step skipped" skip.log || fail "no skipped step reported"
echo "non-finite: stop and skip ok"
