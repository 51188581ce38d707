#!/usr/bin/env bash
# Fault injection: `kill -9` while checkpoints are being written (--checkpoint-every 1 on a wider model, so that
# writes take a good share of the time). Half of the kills are aimed: the moment a temporary checkpoint file
# appears; the others at a random moment. After every kill each ckpt-*.h5 must verify (evaluate loads it), and
# --resume must continue from the newest one, ignoring the temporary files left behind (which are counted).
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
RANDOM=${KILL_SEED:-42}
kills=${KILLS:-6}
"$CBEDNET" convert --in "$DATA" --split test --size 16 --log-scale --out test16.h5 > /dev/null
"$CBEDNET" convert --in "$DATA" --split train --size 16 --log-scale --out train16.h5 > /dev/null
args=(--data train16.h5 --arch basic:1,1 --width 96 --stem small --epochs 50 --batch 4 --seed 9 --val-split none
      --log-every 1 --checkpoint-every 1 --keep-checkpoints 2)
in_write=0
for k in $(seq 1 "$kills"); do
  resume=(); [[ -d run/checkpoints ]] && resume=(--resume)
  "$CBEDNET" train "${args[@]}" --out run "${resume[@]}" > "train-$k.log" 2>&1 &
  pid=$!
  if (( k % 2 == 1 )); then   # aimed: a temporary file exists
    deadline=$((SECONDS + 60))
    while (( SECONDS < deadline )) && kill -0 "$pid" 2>/dev/null; do   # one complete checkpoint first
      compgen -G "run/checkpoints/ckpt-*.h5" > /dev/null && break
      sleep 0.02
    done
    while (( SECONDS < deadline )) && kill -0 "$pid" 2>/dev/null; do
      compgen -G "run/checkpoints/*.tmp-$pid" > /dev/null && break
    done
  else
    for _ in $(seq 1 300); do grep -q "checkpoint " "train-$k.log" 2>/dev/null && break; sleep 0.05; done
    sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  fi
  kill -9 "$pid" 2>/dev/null || fail "kill $k: the run had already ended: $(tail -3 "train-$k.log")"
  wait "$pid" 2> /dev/null || true
  compgen -G "run/checkpoints/*.tmp-$pid" > /dev/null && in_write=$((in_write + 1))
  [[ $k -eq 1 ]] || grep -q "resumed from" "train-$k.log" || { cat "train-$k.log"; fail "kill $k: did not resume"; }
  grep -q "skipped" "train-$k.log" && { cat "train-$k.log"; fail "kill $k: a checkpoint written before was damaged"; }
  for f in run/checkpoints/ckpt-*.h5; do
    [[ -e "$f" ]] || continue
    "$CBEDNET" evaluate --checkpoint "$f" --data test16.h5 --split test > eval.txt 2>&1 ||
      { cat eval.txt; fail "kill $k: $f does not load"; }
  done
done
"$CBEDNET" train "${args[@]}" --out run --resume --max-steps 1 > final.log 2>&1 || true
grep -q "resumed from" final.log || { cat final.log; fail "final resume failed"; }
grep -q "skipped" final.log && fail "final resume skipped a damaged checkpoint"
# The resumed run's checkpoint write prunes the temporary files of the killed writers (io/checkpoint prune_checkpoints:
# a ckpt-*.h5.tmp-<pid> whose process is gone).
tmp_files=$(compgen -G "run/checkpoints/*.tmp-*" | wc -l || true)
[[ $in_write -eq 0 || $tmp_files -eq 0 ]] ||
  fail "$tmp_files temporary files of killed checkpoint writes left in run/checkpoints after the resumed run's write"
echo "kill during checkpoint: $kills kills, $in_write of them mid-write; every ckpt-*.h5 loads; resume ok;" \
  "the killed writes' temporary files removed by the next write"
