#!/usr/bin/env bash
# Preemption: SIGUSR1 (forwarded by mpiexec to every rank) or SIGTERM stops training after a step all ranks agree
# on, with a checkpoint and exit code 75; the resumed run ends bit-identical to an uninterrupted one.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 20 --batch 8 --seed 3 --val-split none --log-every 1)  # ~300 steps: time to signal
mpirun2 "$CBEDNET" train "${args[@]}" --out whole > /dev/null

signal_run() {  # signal, launcher...
  local sig=$1; shift
  "$@" "$CBEDNET" train "${args[@]}" --out parts > parts.log 2>&1 &
  local pid=$!
  # The run directory's own log, written and flushed by rank 0: mpiexec forwards the ranks' stdout in batches, and
  # waiting for it once let a fast run finish all its steps before the signal came.
  for _ in $(seq 1 3000); do grep -q "step 3/" parts/train.log 2>/dev/null && break; sleep 0.02; done
  kill -"$sig" "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 75 ]] || { cat parts.log >&2; fail "$sig: exit code $rc, expected 75"; }
  grep -q "stopped at global step .* on SIG" parts.log || fail "$sig: no stop message"
}
cbednet_mpiexec_argv 2   # the launcher itself in the background, not a shell function: it gets the signal
signal_run USR1 "${CBEDNET_MPIEXEC_ARGV[@]}"
stopped_at=$(grep -o "stopped at global step [0-9]*" parts.log | grep -o "[0-9]*$")
echo "stopped by SIGUSR1 at step $stopped_at"
mpirun2 "$CBEDNET" train "${args[@]}" --out parts --resume > resumed.log
last=$(ls whole/checkpoints | tail -1)
for group in parameters momentum buffers; do
  h5diff -q "whole/checkpoints/$last" "parts/checkpoints/$last" /$group /$group || fail "/$group differs after preemption"
done

rm -rf parts
signal_run TERM env   # a single process receiving SIGTERM directly
"$CBEDNET" train "${args[@]}" --out parts --resume > /dev/null
echo "preemption: ok (exit 75, checkpoint, exact resume)"
