#!/usr/bin/env bash
# Fault injection: `kill -9` of one rank of a 2-rank `mpiexec cbednet train` in mid-training. Every rank and
# mpiexec must be gone within 30 s, and mpiexec's message must name the lost rank and its signal.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
# Alive and not a zombie (a container's PID 1 may never reap orphans).
alive() { [[ -e /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
args=(--data "$DATA" "${TINY[@]}" --epochs 100 --batch 8 --val-split none --log-every 1)
for victim in 1 0; do
  # run.log too: the loop below must not find "step 3/" in the previous round's log before mpiexec truncates it.
  rm -rf run run.log
  "$MPIEXEC" --oversubscribe -n 2 "$CBEDNET" train "${args[@]}" --out run > run.log 2>&1 &
  launcher=$!
  for _ in $(seq 1 600); do grep -q "step 3/" run.log 2>/dev/null && break; sleep 0.1; done
  grep -q "step 3/" run.log || { cat run.log; fail "training did not start"; }
  # The ranks are mpiexec's children; pick the one whose OMPI_COMM_WORLD_RANK is the victim.
  pids=$(pgrep -P "$launcher" -x cbednet || true)
  [[ $(wc -w <<< "$pids") -eq 2 ]] || fail "expected 2 rank processes under mpiexec $launcher, found: $pids"
  target=""
  for p in $pids; do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$victim" && target=$p
  done
  [[ -n "$target" ]] || fail "no process of rank $victim"
  kill -9 "$target"
  killed_at=$(date +%s.%N)
  rc=0
  for _ in $(seq 1 300); do alive "$launcher" || break; sleep 0.1; done
  if alive "$launcher"; then
    kill -9 "$launcher" $pids 2>/dev/null || true
    fail "mpiexec still running 30 s after rank $victim was killed"
  fi
  wait "$launcher" || rc=$?
  elapsed=$(echo "$(date +%s.%N) - $killed_at" | bc)
  for p in $pids; do ! alive "$p" || fail "rank process $p survived"; done
  [[ $rc -ne 0 ]] || fail "mpiexec exited 0 after losing rank $victim"
  grep -qE "rank $victim .*(signal 9|Killed)" run.log || { cat run.log; fail "mpiexec's message does not name rank $victim and signal 9"; }
  echo "rank $victim killed: all gone in ${elapsed} s, mpiexec exit $rc: $(grep -E "rank $victim" run.log | head -1)"
done
