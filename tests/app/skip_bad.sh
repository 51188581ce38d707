#!/usr/bin/env bash
# --skip-bad with several data-parallel replicas: samples with NaN pixels are dropped by the loader, the trainer fills
# the short shares with repeats (every replica keeps B/D samples), training ends normally and says how many.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
cp -r "$DATA" data
/usr/bin/python3 - data/train <<'PY'
import glob, sys
import h5py, numpy as np
files = sorted(glob.glob(sys.argv[1] + "/*.h5"))
with h5py.File(files[0], "r+") as f:
    names = sorted(k for k in f.keys() if k.startswith("sample_"))
    for name in names[:6]:  # spread over the epoch by the shuffle; some land in trained steps
        stack = f[name]["cbed_stack"][...]
        stack[0, 0, 0] = np.nan
        f[name]["cbed_stack"][...] = stack
PY
args=(--data data "${TINY[@]}" --epochs 2 --batch 8 --val-split none --log-every 0)
mpirun2 "$CBEDNET" train "${args[@]}" --skip-bad --out run > run.log 2>&1 || { cat run.log >&2; fail "--skip-bad with 2 replicas failed"; }
grep -q "training finished" run.log || { cat run.log >&2; fail "the run did not finish"; }
grep -Eq -- "--skip-bad: [1-9][0-9]* bad training samples were dropped" run.log ||
  { cat run.log >&2; fail "no report of the dropped samples"; }
echo "skip-bad: 2 replicas ok ($(grep -Eo -- '--skip-bad: [0-9]+' run.log))"

# Samples whose label cannot be read are dropped while indexing: train and convert list each one, naming file and
# group; without --skip-bad the first one is an error naming it.
/usr/bin/python3 - data/dev <<'PY'
import glob, sys
import h5py
files = sorted(glob.glob(sys.argv[1] + "/*.h5"))
with h5py.File(files[0], "r+") as f:
    names = sorted(k for k in f.keys() if k.startswith("sample_"))
    for name in names[:2]:
        f[name].attrs["space_group"] = "999"
PY
"$CBEDNET" convert --in data --split dev --out dev.h5 --quiet > convert.txt 2>&1 && fail "a bad label was converted"
grep -q "group sample_.*space_group.*outside 1..230" convert.txt || { cat convert.txt >&2; fail "no message naming the bad label"; }
mpirun2 "$CBEDNET" convert --in data --split dev --out dev.h5 --skip-bad --quiet > convert.txt 2>&1 ||
  { cat convert.txt >&2; fail "convert --skip-bad failed"; }
[[ $(grep -c "^skipped: file .*batch_dev_0.h5, group sample_" convert.txt) -eq 2 ]] ||
  { cat convert.txt >&2; fail "convert does not list the 2 skipped samples once each"; }
mpirun2 "$CBEDNET" train --data data --train-split dev --val-split none "${TINY[@]}" --epochs 1 --batch 8 --skip-bad \
  --out run-dev > dev.log 2>&1 || { cat dev.log >&2; fail "train --skip-bad on the dev split failed"; }
[[ $(grep -c "skipped (--skip-bad): file .*batch_dev_0.h5, group sample_" run-dev/train.log) -eq 2 ]] ||
  { cat run-dev/train.log >&2; fail "train.log does not list the 2 skipped samples"; }
echo "skip-bad: skipped samples listed"
