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
