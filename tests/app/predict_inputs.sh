#!/usr/bin/env bash
# predict on the inputs a user brings: SMC files without labels (a microscope's patterns) or with `space_group`
# stored as a dataset instead of an attribute; NumPy .npy, TIFF stacks and a plain HDF5 dataset at twice the
# model's input size (box-averaged down: the same predictions as the SMC originals). Unlabelled rows have an empty
# true space group (CSV) or null (JSON); evaluate and train refuse unlabelled samples naming the file and group;
# inputs predict cannot map are refused naming the file; every JSON written is strict JSON.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
"$CBEDNET" train --data "$DATA" "${TINY[@]}" --epochs 1 --batch 16 --quiet --out run > train.txt ||
  { cat train.txt >&2; fail "train failed"; }

# A copy of the test file: every label removed, except sample 0's, rewritten as an integer dataset.
mkdir unlabelled
/usr/bin/python3 - "$DATA/test/batch_test_0.h5" unlabelled/microscope.h5 <<'PY' || fail "could not write the test file"
import shutil, sys
import h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    names = sorted(f.keys())
    for i, name in enumerate(names):
        label = int(f[name].attrs["space_group"])
        del f[name].attrs["space_group"]
        if i == 0:
            f[name].create_dataset("space_group", data=np.int32(label))
            print(name, label)
PY
read -r first_group first_label < <(/usr/bin/python3 -c "
import h5py; f = h5py.File('unlabelled/microscope.h5'); n = sorted(f.keys())[0]; print(n, int(f[n]['space_group'][()]))")

"$CBEDNET" predict --checkpoint run --input unlabelled --out pred.csv > pred.txt 2>&1 || { cat pred.txt >&2; fail "predict"; }
grep -q "without a label" pred.txt || fail "predict does not say how many samples had no label"
"$CBEDNET" predict --checkpoint run --input unlabelled --out pred.json --format json --quiet > /dev/null
/usr/bin/python3 - pred.csv pred.json "$first_group" "$first_label" <<'PY' || fail "unlabelled predictions are wrong"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) > 1, "no predictions"
labelled = [r for r in rows if r["true_space_group"]]
assert [(r["group"], r["true_space_group"]) for r in labelled] == [(sys.argv[3], sys.argv[4])], labelled
assert all(r["predicted_space_group"] for r in rows)
def no_constants(name):
    raise ValueError(f"not strict JSON: {name}")
records = json.load(open(sys.argv[2]), parse_constant=no_constants)
assert len(records) == len(rows)
assert sum(r["true_space_group"] is None for r in records) == len(rows) - 1
assert all(r["file"].endswith("microscope.h5") for r in records)
PY

# evaluate and train need labels: one message naming the file and the group, non-zero exit.
check_refused() {
  local rc=0
  "$@" > refused.txt 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "$* accepted unlabelled data"
  grep -q "microscope.h5, group sample_.*: no space_group (attribute or dataset)" refused.txt ||
    { cat refused.txt >&2; fail "$* does not name the unlabelled sample"; }
}
check_refused "$CBEDNET" evaluate --checkpoint run --data unlabelled --split all
check_refused "$CBEDNET" train --data unlabelled "${TINY[@]}" --epochs 1 --batch 4 --out run2

# evaluate's JSON is strict JSON (no NaN/Infinity literals) even for classes without samples.
"$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --out eval.json > /dev/null
/usr/bin/python3 -c "
import json, sys
def no_constants(name): raise ValueError(f'not strict JSON: {name}')
json.load(open('eval.json'), parse_constant=no_constants)" || fail "eval.json is not strict JSON"
# Plain arrays: the test split's stacks, each pixel repeated 2x2 (64x64 for the 32x32 model), in the order of the
# SMC predictions, as float32 and float64 .npy, a TIFF of 3 pages per sample, and an HDF5 dataset.
"$CBEDNET" predict --checkpoint run --input "$DATA" --split test --out smc.csv --quiet > /dev/null
mkdir arrays tiffs
/usr/bin/python3 - smc.csv <<'PY' || fail "could not write the array files"
import csv, sys
import h5py, numpy as np, tifffile
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
stacks = []
for r in rows:
    with h5py.File(r["file"]) as f:
        stacks.append(np.asarray(f[r["group"]]["cbed_stack"], dtype=np.float32))
big = np.repeat(np.repeat(np.stack(stacks), 2, axis=2), 2, axis=3)  # [N, 3, 64, 64]
np.save("arrays/stacks.npy", big)
np.save("f64.npy", big.astype(np.float64))
np.save("one.npy", big[0])
np.save("int.npy", big.astype(np.int32))
np.save("four.npy", np.concatenate([big, big[:, :1]], axis=1))
np.save("odd.npy", big[:, :, :48, :48])
np.save("fortran.npy", np.asfortranarray(big))
open("short.npy", "wb").write(open("arrays/stacks.npy", "rb").read()[:-100])
tifffile.imwrite("tiffs/stacks.tif", big.reshape(-1, 64, 64), photometric="minisblack")
tifffile.imwrite("onepage.tif", big[0, 0], photometric="minisblack")
with h5py.File("plain.h5", "w") as f:
    f.create_dataset("data/stacks", data=big.astype(np.float64))
PY
for input in arrays f64.npy tiffs "plain.h5 --dataset /data/stacks"; do
  # shellcheck disable=SC2086
  "$CBEDNET" predict --checkpoint run --input $input --out array.csv --quiet > /dev/null ||
    fail "predict on $input failed"
  /usr/bin/python3 - smc.csv array.csv "$input" <<'PY' || fail "predictions on $input differ from the SMC originals"
import csv, sys
smc = list(csv.DictReader(open(sys.argv[1], newline="")))
arr = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(arr) == len(smc), f"{len(arr)} rows, expected {len(smc)}"
for a, s in zip(arr, smc):
    assert a["true_space_group"] == "", "an array sample has a label"
    assert (a["top5_space_groups"], a["top5_probabilities"]) == (s["top5_space_groups"], s["top5_probabilities"]), \
        f"{sys.argv[3]} sample {a['sample']}: {a['top5_probabilities']} vs {s['top5_probabilities']}"
PY
done
"$CBEDNET" predict --checkpoint run --input one.npy --out one.csv --quiet > /dev/null || fail "a single [3,S,S] stack"
[[ $(wc -l < one.csv) -eq 2 ]] || fail "one.npy should give one prediction"

check_input_refused() {  # expected text, then the input arguments
  local expected=$1 rc=0
  shift
  "$CBEDNET" predict --checkpoint run --input "$@" --out refused.csv > refused.txt 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "predict accepted $*"
  grep -q -- "$expected" refused.txt || { cat refused.txt >&2; fail "predict $* does not say '$expected'"; }
  [[ ! -e refused.csv ]] || fail "predict $* left an output file"
}
check_input_refused "int.npy: .npy of another element type" int.npy
check_input_refused "four.npy: shape \[32, 4, 64, 64\]" four.npy
check_input_refused "48x48 pixels cannot be reduced to the model's 32x32" odd.npy
check_input_refused "short.npy: holds .* bytes of data, its header announces" short.npy
check_input_refused "fortran.npy: a Fortran-ordered .npy" fortran.npy
check_input_refused "onepage.tif: 1 page; expected 3 per sample" onepage.tif
check_input_refused "dataset '/nowhere': no such dataset" plain.h5 --dataset /nowhere
check_input_refused "no train/dev/test split" arrays --split test

# A checkpoint whose recorded configuration was edited to a downsampling no preprocessing has: refused naming it.
ckpt=$(ls run/checkpoints/*.h5 | tail -1)
cp "$ckpt" edited.h5
/usr/bin/python3 - edited.h5 <<'PY' || fail "could not edit the checkpoint's configuration"
import sys, h5py, re
with h5py.File(sys.argv[1], "r+") as f:
    config = f.attrs["config"]
    config = config.decode() if isinstance(config, bytes) else config
    f.attrs["config"] = re.sub(r"(?m)^downsample *=.*$", "downsample = two", config)
PY
rc=0
"$CBEDNET" predict --checkpoint edited.h5 --input "$DATA" --split test --out edited.csv > edited.txt 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "predict accepted a checkpoint recording downsample = two"
grep -q "checkpoint edited.h5: its configuration records downsample = 'two'" edited.txt ||
  { cat edited.txt >&2; fail "the edited checkpoint's error does not name it and the value"; }
echo "predict_inputs: ok"
