#!/usr/bin/env bash
# cbednet export / import end to end: a trained run exported to ONNX gives, in onnxruntime on the raw SMC stacks
# (the preprocessing is in the graph), the probabilities `cbednet predict` prints; import of the export gives a
# checkpoint whose predictions are identical to the run's; folded batch norm agrees to 1e-4; bad input is one
# message naming the file (and node), a non-zero exit and no file; train --init-from starts from an import's
# weights, with a new head when the class count differs. Skipped (77) without onnx/onnxruntime.
source "$(dirname "$0")/lib.sh"
python_dir=${CBEDNET_PYTHON_DIR:-/opt/cbednet-py}
check="$(cd "$(dirname "$0")/../interop" && pwd)/onnx_check.py"
py() { PYTHONPATH="$python_dir" /usr/bin/python3 "$@"; }
if ! py -c "import onnx, onnxruntime" 2>/dev/null; then
  echo "SKIP: onnx/onnxruntime are not importable from $python_dir (bash scripts/install-deps.sh installs them)"
  exit 77
fi
cd "$SCRATCH"
test_file="$DATA/test/batch_test_0.h5"

"$CBEDNET" train --data "$DATA" "${TINY[@]}" --downsample 2 --epochs 1 --max-steps 3 --batch 8 --out run \
  > train.log 2>&1 || { cat train.log >&2; fail "training failed"; }
"$CBEDNET" export --checkpoint run --out model.onnx > export.txt || fail "export failed"
grep -q "downsample=2" export.txt || { cat export.txt >&2; fail "export did not take the run's --downsample 2"; }
"$CBEDNET" export --checkpoint run --out folded.onnx --fold-bn > /dev/null || fail "export --fold-bn failed"
"$CBEDNET" predict --checkpoint run --input "$test_file" --out pred.json --format json --quiet > /dev/null

# onnxruntime on the file's raw stacks, in the reader's order (groups by (i, k) numerically). Debian's h5py reads
# them (it is built for Debian's numpy, which the PyPI numpy beside onnxruntime would shadow).
/usr/bin/python3 - "$test_file" <<'PY'
import re, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
names = sorted((n for n in f if re.fullmatch(r"sample_\d+_\d+", n)), key=lambda n: tuple(int(v) for v in n.split("_")[1:]))
x = np.stack([f[n]["cbed_stack"][...].astype(np.float32) for n in names])
x.tofile("stacks.bin")
open("stacks.shape", "w").write(",".join(str(d) for d in x.shape))
PY
cat > ort_vs_predict.py <<'PY'
import json, sys
import numpy as np, onnx, onnxruntime as ort
model, predictions = sys.argv[1:3]
onnx.checker.check_model(onnx.load(model), full_check=True)
x = np.fromfile("stacks.bin", dtype=np.float32).reshape([int(d) for d in open("stacks.shape").read().split(",")])
probs = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["probabilities"], {"cbed": x})[0]
worst = 0.0
for row in json.load(open(predictions)):
    for t in row["top5"]:
        worst = max(worst, abs(probs[row["sample"], t["space_group"] - 1] - t["probability"]))
print(f"{model}: {x.shape[0]} samples, largest difference to predict's probabilities {worst:.2g}")
sys.exit(0 if worst <= 2e-6 else 1)
PY
py ort_vs_predict.py model.onnx pred.json || fail "onnxruntime disagrees with cbednet predict"
py ort_vs_predict.py folded.onnx pred.json || fail "onnxruntime (folded) disagrees with cbednet predict"

# --views random: each projection a sample; the export averages the three softmaxes as predict does.
"$CBEDNET" train --data "$DATA" "${TINY[@]}" --views random --epochs 1 --max-steps 2 --batch 8 --out run-views \
  > train-views.log 2>&1 || { cat train-views.log >&2; fail "training with --views random failed"; }
"$CBEDNET" export --checkpoint run-views --out views.onnx > /dev/null || fail "export of a --views random run"
"$CBEDNET" predict --checkpoint run-views --input "$test_file" --out pred-views.json --format json --quiet > /dev/null
py ort_vs_predict.py views.onnx pred-views.json || fail "onnxruntime disagrees with predict (--views random)"

# A run on a packed file (log-scaled by convert, so the run's own --log-scale is off): the export takes the packed
# file's preprocessing, and onnxruntime on the raw stacks gives what predict gives on the packed test split.
"$CBEDNET" convert --in "$DATA" --out packed.h5 --log-scale --quiet > /dev/null
"$CBEDNET" train --data packed.h5 --arch basic:1,1 --width 8 --stem small --epochs 1 --max-steps 2 --batch 8 \
  --out run-packed > train-packed.log 2>&1 || { cat train-packed.log >&2; fail "training on the packed file"; }
"$CBEDNET" export --checkpoint run-packed --out packed.onnx > export-packed.txt || fail "export of the packed run"
grep -q "log_scale=1" export-packed.txt || { cat export-packed.txt >&2; fail "export ignored the packed file's log scale"; }
"$CBEDNET" predict --checkpoint run-packed --input packed.h5 --split test --out pred-packed.json --format json \
  --quiet > /dev/null
py ort_vs_predict.py packed.onnx pred-packed.json || fail "onnxruntime disagrees with predict (packed run)"

# Import: CBEDNet's own export comes back as the same model (identical predictions).
"$CBEDNET" import --onnx model.onnx --out imported.h5 > import.txt || fail "import failed"
"$CBEDNET" predict --checkpoint imported.h5 --input "$test_file" --out pred-imported.json --format json --quiet \
  > /dev/null
cmp -s pred.json pred-imported.json || fail "the imported checkpoint predicts differently from the run"
"$CBEDNET" evaluate --checkpoint imported.h5 --data "$DATA" --split test --quiet > /dev/null || fail "evaluate"

# train --init-from: a torchvision-form graph of 5 classes, imported, fine-tuned with a new head of 230 classes (and
# the run's own import with its head kept). At a learning rate of 1e-30 one step leaves the weights as they were:
# the body (and, with the same class count, the head) must be the imported checkpoint's, bit for bit.
py "$check" torchvision tv.onnx tv-in.bin tv-out.bin --block basic --counts 1,1 --width 8 --size 32 --stem small \
  --classes 5 > /dev/null
"$CBEDNET" import --onnx tv.onnx --out tv.h5 > /dev/null || fail "import of the torchvision-form graph"
tiny_step=(--data "$DATA" --log-scale --epochs 1 --max-steps 1 --batch 8 --lr 1e-30 --weight-decay 0 --quiet)
"$CBEDNET" train "${tiny_step[@]}" --init-from tv.h5 --out ft-tv > ft-tv.log 2>&1 || { cat ft-tv.log >&2; fail "fine-tuning"; }
grep -q "new head of 230 classes" ft-tv/train.log || fail "no new head for 230 classes"
"$CBEDNET" train "${tiny_step[@]}" --downsample 2 --init-from imported.h5 --out ft-run > ft-run.log 2>&1 ||
  { cat ft-run.log >&2; fail "fine-tuning from the run's import"; }
/usr/bin/python3 - <<'PY' || fail "--init-from did not start from the checkpoint's weights"
import h5py, numpy as np
for start, run, head_kept in (("tv.h5", "ft-tv", False), ("imported.h5", "ft-run", True)):
    a = h5py.File(start, "r")["parameters"]
    b = h5py.File(f"{run}/checkpoints/ckpt-00000001.h5", "r")["parameters"]
    for name in a:
        if name.startswith("head.") and not head_kept:
            assert b[name].shape[1 if name.endswith("bias") else 0] == 230, name
        elif name.endswith(".weight"):
            assert np.array_equal(a[name][...], b[name][...]), f"{run}: {name} differs from {start}'s"
print("init-from: the fine-tuned runs started from the imported weights")
PY
rc=0
"$CBEDNET" train "${tiny_step[@]}" --init-from tv.h5 --arch resnet18 --out ft-bad > ft-bad.log 2>&1 || rc=$?
[[ $rc -ne 0 && ! -e ft-bad ]] || fail "--init-from with --arch was accepted"
grep -q "init-from" ft-bad.log || fail "the --arch conflict is not explained"

# Bad input: one message naming the file (and the node), non-zero exit, nothing written.
head -c 3000 model.onnx > truncated.onnx
echo "not a model" > text.onnx
py "$check" bad unsupported-op model.onnx unsupported.onnx > /dev/null
for bad in truncated text unsupported missing; do
  rc=0
  "$CBEDNET" import --onnx $bad.onnx --out out-$bad.h5 > $bad.log 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "import of $bad.onnx succeeded"
  [[ ! -e out-$bad.h5 ]] || fail "import of $bad.onnx wrote a file"
  [[ $(grep -c . $bad.log) -eq 1 ]] || { cat $bad.log >&2; fail "import of $bad.onnx: not one line"; }
  grep -q "$bad.onnx" $bad.log || { cat $bad.log >&2; fail "the message does not name $bad.onnx"; }
done
grep -q "the_sigmoid" unsupported.log && grep -q "Sigmoid" unsupported.log || fail "the node is not named"
rc=0
"$CBEDNET" export --checkpoint nothing-here --out x.onnx > export-bad.log 2>&1 || rc=$?
[[ $rc -ne 0 && ! -e x.onnx ]] || fail "export of a missing checkpoint"
grep -q "nothing-here" export-bad.log || fail "the export message does not name the checkpoint"
echo "onnx: ok"
