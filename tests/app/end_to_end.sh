#!/usr/bin/env bash
# simulate (fixture) -> inspect -> convert -> train on 2 MPI ranks -> evaluate -> predict (CSV and JSON).
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
"$CBEDNET" inspect "$DATA" --json > inspect.json
grep -q '"samples"' inspect.json || fail "inspect --json has no sample count"

"$CBEDNET" convert --in "$DATA" --out packed.h5 --log-scale > convert.txt
grep -q "samples" convert.txt || fail "convert printed no summary"

mpirun2 "$CBEDNET" train --data "$DATA" "${TINY[@]}" --epochs 2 --batch 16 --lr 0.05 --out run > train.txt
grep -q "training finished" train.txt || fail "train did not finish"
for f in config.ini train.log metrics.csv metrics.jsonl; do [[ -s run/$f ]] || fail "run/$f missing"; done
[[ $(wc -l < run/metrics.csv) -eq 3 ]] || fail "metrics.csv should have a header and 2 epochs"
ls run/checkpoints/ckpt-*.h5 > /dev/null || fail "no checkpoint"
grep -q "validation top-1" train.txt || fail "no validation on the dev split"

mpirun2 "$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --out eval.json > eval.txt
for key in top1 top5 macro_f1 balanced_accuracy crystal_system_accuracy point_group_accuracy majority_baseline; do
  grep -q "\"$key\"" eval.json || fail "eval.json lacks $key"
done
[[ -s eval.confusion.csv ]] || fail "no confusion matrix"
[[ $(wc -l < eval.confusion.csv) -eq 231 ]] || fail "confusion matrix should have 230 rows and a header"

tests=$(python3 -c "import json;print(json.load(open('eval.json'))['metrics']['samples'])" 2>/dev/null || \
        grep -o '"samples": [0-9]*' eval.json | head -1 | grep -o '[0-9]*')
"$CBEDNET" predict --checkpoint run --input "$DATA" --split test --out pred.csv > /dev/null
[[ $(($(wc -l < pred.csv) - 1)) -eq $tests ]] || fail "predict wrote $(wc -l < pred.csv) lines for $tests samples"
head -1 pred.csv | grep -q "predicted_space_group,symbol,crystal_system" || fail "bad CSV header"
"$CBEDNET" predict --checkpoint run --input "$DATA" --split test --out pred.json --format json > /dev/null
grep -q '"top5"' pred.json || fail "JSON predictions lack top5"

# The packed file trains too (collective reads).
mpirun2 "$CBEDNET" train --data packed.h5 "${TINY[@]}" --epochs 1 --batch 16 --out run-packed > /dev/null
[[ -s run-packed/metrics.csv ]] || fail "training on the packed file wrote no metrics"
echo "end to end: ok"
