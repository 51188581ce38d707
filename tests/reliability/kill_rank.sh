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
  # The tag (inherited by every rank through the launcher) finds this run's ranks whatever the process tree: Open
  # MPI's ranks are mpiexec's children, Hydra's the children of its hydra_pmi_proxy.
  tag="kill_rank.$$.$victim"
  cbednet_mpiexec_argv 2
  CBEDNET_TEST_TAG=$tag "${CBEDNET_MPIEXEC_ARGV[@]}" "$CBEDNET" train "${args[@]}" --out run > run.log 2>&1 &
  launcher=$!
  for _ in $(seq 1 600); do grep -q "step 3/" run.log 2>/dev/null && break; sleep 0.1; done
  grep -q "step 3/" run.log || { cat run.log; fail "training did not start"; }
  # Scanned until both ranks are seen (up to 5 s): a /proc read can fail while a process starts or ends, and
  # under the sanitizers a rank may appear later than the first progress line of the other.
  pids="" candidates=""
  for _ in $(seq 1 50); do
    pids=""
    candidates=$(pgrep -x cbednet || true)
    for p in $candidates; do
      tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "CBEDNET_TEST_TAG=$tag" && pids+="$p "
    done
    [[ $(wc -w <<< "$pids") -eq 2 ]] && break
    sleep 0.1
  done
  [[ $(wc -w <<< "$pids") -eq 2 ]] ||
    fail "expected 2 rank processes of mpiexec $launcher, found: $pids (processes named cbednet: $(echo $candidates))"
  # The victim's rank, as its launcher told it (Open MPI, Hydra's PMI, PMIx).
  target=""
  for p in $pids; do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qxE "(OMPI_COMM_WORLD_RANK|PMI_RANK|PMIX_RANK)=$victim" && target=$p
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
  launcher_reported_signal run.log "$victim" 9 "$target" ||
    { cat run.log; fail "mpiexec's message does not name rank $victim (pid $target) and signal 9"; }
  echo "rank $victim killed: all gone in ${elapsed} s, mpiexec exit $rc: $(grep -iE "rank $victim|PID $target" run.log | head -1)"
done
