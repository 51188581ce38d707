#!/usr/bin/env bash
# --tensorboard: TensorBoard's own reader decodes the event files; the per-epoch scalars equal metrics.csv (to float32
# precision) and the per-step ones come at the progress cadence; only world rank 0 writes; a resume that re-runs an
# epoch adds a file whose re-run steps replace the old ones; none writes nothing; an unusable directory is an error
# naming it before anything is written. Skipped (exit 77) when TensorBoard cannot be imported.
source "$(dirname "$0")/lib.sh"
python_dir=${CBEDNET_PYTHON_DIR:-/opt/cbednet-py}
reader="from tensorboard.backend.event_processing.event_accumulator import EventAccumulator"
if ! PYTHONPATH="$python_dir" /usr/bin/python3 -c "$reader" 2>/dev/null; then
  echo "SKIP: TensorBoard is not importable from $python_dir (bash scripts/install-deps.sh installs it there)"
  exit 77
fi
cd "$SCRATCH"
args=(--data "$DATA" "${TINY[@]}" --epochs 2 --batch 8 --log-every 3 --seed 5)

touch not_a_directory
rc=0
"$CBEDNET" train "${args[@]}" --out bad --tensorboard not_a_directory/tb > bad.log 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "an unusable --tensorboard directory was accepted"
grep -q "not_a_directory/tb" bad.log || { cat bad.log >&2; fail "the error does not name the directory"; }
[[ ! -e bad/config.ini ]] || fail "the run directory was written before the --tensorboard error"

"$CBEDNET" train "${args[@]}" --max-steps 2 --out off --tensorboard none > off.log 2>&1 || { cat off.log >&2; fail "none"; }
[[ ! -e off/tensorboard ]] || fail "--tensorboard none wrote event files"

# Two ranks (only rank 0 writes), then the last epoch again from the first epoch's checkpoint (a second file).
mpirun2 "$CBEDNET" train "${args[@]}" --out run > run.log 2>&1 || { cat run.log >&2; fail "training failed"; }
files=(run/tensorboard/events.out.tfevents.*)
((${#files[@]} == 1)) || fail "expected one event file from a 2-rank run, got ${#files[@]}"
rm "run/checkpoints/$(ls run/checkpoints | tail -1)"
"$CBEDNET" train "${args[@]}" --out run --resume > resume.log 2>&1 || { cat resume.log >&2; fail "resume failed"; }
files=(run/tensorboard/events.out.tfevents.*)
((${#files[@]} == 2)) || fail "expected a second event file after the resume, got ${#files[@]}"

PYTHONPATH="$python_dir" /usr/bin/python3 - run 3 <<'PY' || fail "the event files do not match metrics.csv"
import csv, math, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run, every = sys.argv[1], int(sys.argv[2])
events = EventAccumulator(run + "/tensorboard", size_guidance={"scalars": 0})
events.Reload()
rows = list(csv.DictReader(open(run + "/metrics.csv")))
assert len(rows) == 2, rows
problems = []

def same(event_value, text):  # the event holds a float32; the CSV 8 significant digits of the double
    expected = float(text)
    return math.isclose(event_value, expected, rel_tol=2.0**-22, abs_tol=1e-30)

def scalars(tag):
    return [(e.step, e.value) for e in events.Scalars(tag)]

for column in ["train_loss", "train_top1", "lr", "images_per_s", "val_top1", "val_top5", "val_macro_f1",
               "val_balanced_accuracy", "val_crystal_system_accuracy"]:
    points = scalars("epoch/" + column)
    wanted = [(int(r["global_step"]), r[column]) for r in rows]
    if [s for s, _ in points] != [s for s, _ in wanted]:
        problems.append(f"epoch/{column}: steps {[s for s, _ in points]}, metrics.csv {[s for s, _ in wanted]}")
    elif not all(same(v, text) for (_, v), (_, text) in zip(points, wanted)):
        problems.append(f"epoch/{column}: {points} != metrics.csv {wanted}")

per_epoch = int(rows[0]["global_step"])
cadence = [s for s in range(1, 2 * per_epoch + 1) if (s - 1) % per_epoch + 1 in range(every, per_epoch + 1, every)
           or s % per_epoch == 0]
for tag in ["train/loss", "train/top1", "lr", "loss_scale", "throughput/images_per_s"]:
    steps = [s for s, _ in scalars(tag)]
    if steps != cadence:  # each step once: the resumed run's START dropped the first run's points of epoch 2
        problems.append(f"{tag}: steps {steps}, expected {cadence}")
if any(v != 1.0 for _, v in scalars("loss_scale")):
    problems.append("loss_scale is not 1 without loss scaling")
print("\n".join(problems) or f"tensorboard: {len(events.Tags()['scalars'])} tags, {per_epoch} steps per epoch ok")
sys.exit(1 if problems else 0)
PY
echo "tensorboard: event files ok"
