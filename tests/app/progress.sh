#!/usr/bin/env bash
# Progress of long commands: on stderr, a bar redrawn in place on a terminal and plain lines in a batch log, on rank 0
# only; --quiet silences it; stdout (JSON, tables) is unchanged.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"

"$CBEDNET" simulate --out sim --materials 8 --space-groups 2,225 --size 32 --seed 3 > sim.out 2> sim.err
grep -q "^simulate: 8 materials in " sim.err || { cat sim.err >&2; fail "simulate: no final progress line"; }
"$CBEDNET" simulate --out sim-quiet --materials 8 --space-groups 2,225 --size 32 --seed 3 --quiet > /dev/null 2> q.err
[[ ! -s q.err ]] || { cat q.err >&2; fail "simulate --quiet printed progress"; }

"$CBEDNET" convert --in "$DATA" --out packed.h5 --log-scale > convert.out 2> convert.err
grep -q "^convert: [0-9]* samples in " convert.err || { cat convert.err >&2; fail "convert: no progress line"; }
grep -q "^wrote packed.h5" convert.out || fail "convert's stdout changed"

mpirun2 "$CBEDNET" train --data "$DATA" "${TINY[@]}" --epochs 1 --batch 8 --val-split none --out run --quiet > train.out
! grep -q " | loss " train.out || fail "train --quiet printed progress lines"
grep -q "training finished" train.out || fail "train --quiet lost the run's messages"

mpirun2 "$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test > eval.out 2> eval.err
[[ $(grep -c "^evaluate: [0-9]* samples in " eval.err) == 1 ]] || { cat eval.err >&2; fail "evaluate: not one final line (rank 0 only)"; }

"$CBEDNET" bench --arch basic:1 --width 4 --stem small --size 32 --batch 4 --steps 3 --warmup 0 > bench.json 2> bench.err
/usr/bin/python3 -c "import json, sys; json.loads(open('bench.json').read())" || fail "bench's stdout is not one JSON object"
grep -q "^bench: 3 steps in " bench.err || { cat bench.err >&2; fail "bench: no progress line"; }

# On a terminal: a bar redrawn in place (carriage returns, [###...]).
if command -v script > /dev/null; then
  script -qec "$CBEDNET convert --in $DATA --out tty.h5 --log-scale" /dev/null > tty.out 2>&1 || { cat tty.out >&2; fail "convert on a terminal failed"; }
  grep -q $'\r' tty.out || fail "no in-place redraw on a terminal"
  grep -q "convert: .* samples in " tty.out || fail "no final line on a terminal"
fi
echo "progress: simulate, convert, train --quiet, evaluate, bench and a terminal ok"
