#!/usr/bin/env bash
# predict on the inputs a user brings: SMC files without labels (a microscope's patterns) or with `space_group`
# stored as a dataset instead of an attribute. Unlabelled rows have an empty true space group (CSV) or null (JSON);
# evaluate and train refuse unlabelled samples naming the file and group; every JSON written is strict JSON.
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
echo "predict_inputs: ok"
