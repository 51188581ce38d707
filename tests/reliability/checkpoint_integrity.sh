#!/usr/bin/env bash
# A checkpoint with one byte flipped inside a dataset, or truncated, is detected on load with a message naming the
# file; `train --resume` falls back to the newest good checkpoint and says which it skipped; evaluate and predict
# on a corrupt checkpoint file fail cleanly, and on a run directory they use the newest good one.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 1 --batch 8 --seed 5 --val-split none --log-every 1000
      --checkpoint-every 2 --keep-checkpoints 5)
"$CBEDNET" train "${args[@]}" --out run --max-steps 6 > /dev/null
ls run/checkpoints > list.txt
[[ $(wc -l < list.txt) -eq 3 ]] || { cat list.txt; fail "expected checkpoints at steps 2, 4, 6"; }
ck2=run/checkpoints/ckpt-00000002.h5 ck4=run/checkpoints/ckpt-00000004.h5 ck6=run/checkpoints/ckpt-00000006.h5
cp -r run pristine

# 1. A flipped byte in a parameter's data: the checksum catches it, evaluate names the file.
flip_byte "$ck6" /parameters/head.fc.weight
expect_clean_failure "checksum mismatch" 120 -- "$CBEDNET" evaluate --checkpoint "$ck6" --data "$DATA" --split test
names_file "$ck6" || fail "evaluate: message does not name $ck6"
expect_clean_failure "checksum mismatch" 120 -- "$CBEDNET" predict --checkpoint "$ck6" --input "$DATA" --split test \
  --out pred.csv
[[ ! -e pred.csv ]] || fail "predict left pred.csv behind"

# 2. A truncated checkpoint (its second half cut off).
size=$(stat -c %s "$ck4")
truncate -s $((size / 2)) "$ck4"
expect_clean_failure "ckpt-00000004.h5" 120 -- "$CBEDNET" evaluate --checkpoint "$ck4" --data "$DATA" --split test
grep -qiE "truncat|open|corrupt|fail" out.txt || { cat out.txt; fail "truncated: message says nothing of the damage"; }

# 3. A run directory whose two newest checkpoints are damaged: evaluate takes step 2 and says which it skipped.
"$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --out eval.json > eval.txt 2>&1 ||
  { cat eval.txt; fail "evaluate on the run directory failed"; }
grep -q "ckpt-00000002.h5" eval.txt eval.json || { cat eval.txt; fail "evaluate did not use the newest good checkpoint"; }

# 4. --resume falls back to step 2 ("skipped ...", both damaged files named), then reaches step 6 again, and ends
#    bit-identical to the undamaged run's step-6 checkpoint.
"$CBEDNET" train "${args[@]}" --out run --max-steps 6 --resume > resume.txt 2>&1 || { cat resume.txt; fail "resume failed"; }
grep -q "skipped .*ckpt-00000006.h5" resume.txt || { cat resume.txt; fail "no 'skipped' line for step 6"; }
grep -q "skipped .*ckpt-00000004.h5" resume.txt || { cat resume.txt; fail "no 'skipped' line for step 4"; }
grep -q "resumed from .*ckpt-00000002.h5" resume.txt || { cat resume.txt; fail "did not resume from step 2"; }
for group in parameters momentum buffers; do
  h5diff -q "$ck6" pristine/checkpoints/ckpt-00000006.h5 /$group /$group || fail "/$group differs after the fallback"
done

# 5. Every checkpoint damaged: --resume refuses, naming each one, and writes nothing.
flip_byte "$ck2" /momentum/head.fc.weight
flip_byte "$ck4" /buffers/"$("$PY" -c "import h5py,sys; print(sorted(h5py.File(sys.argv[1])['buffers'])[0])" "$ck4")"
flip_byte "$ck6" /parameters/head.fc.bias
before=$(ls -l run/checkpoints | md5sum)
expect_clean_failure "no usable checkpoint" 120 -- "$CBEDNET" train "${args[@]}" --out run --resume
for s in 2 4 6; do grep -q "ckpt-0000000$s.h5" out.txt || fail "refusal does not name step $s"; done
[[ "$(ls -l run/checkpoints | md5sum)" == "$before" ]] || fail "a refused resume changed the checkpoints"

# 6. A file that is not HDF5 at all, and an empty file, in the checkpoint's place.
printf 'garbage' > garbage.h5 && : > empty.h5
expect_clean_failure "garbage.h5" 60 -- "$CBEDNET" evaluate --checkpoint garbage.h5 --data "$DATA" --split test
expect_clean_failure "empty.h5" 60 -- "$CBEDNET" evaluate --checkpoint empty.h5 --data "$DATA" --split test
echo "checkpoint integrity: flipped bytes and truncation detected, resume falls back, evaluate/predict fail cleanly"
