#!/usr/bin/env bash
# cbednet simulate --physics multislice: the same files, labels and split as the kinematic path, identical pixels for
# 1 and 2 ranks and 1 and 2 threads, the SMC preset's settings, and bad input as one clear error with nothing written.
source "$(dirname "$0")/lib.sh"
PY=${CBEDNET_PYTHON:-/usr/bin/python3}
common=(--materials 3 --space-groups 216,62,14 --size 128 --seed 5 --quiet)  # all 10 energies, 100-190 keV
ms=(--physics multislice --probe-grid 2 --thickness 20)

"$CBEDNET" simulate --out "$SCRATCH/kin" "${common[@]}" > /dev/null
# 1 rank x 1 thread with 2 OpenMP threads available (OpenBLAS must not use them: its rounding would change),
# 2 ranks, and 1 rank x 2 threads: identical bytes.
OMP_NUM_THREADS=2 "$CBEDNET" simulate --out "$SCRATCH/ms1" "${common[@]}" "${ms[@]}" --threads 1 > "$SCRATCH/ms1.json"
mpirun2 "$CBEDNET" simulate --out "$SCRATCH/ms2" "${common[@]}" "${ms[@]}" > "$SCRATCH/ms2.json"
OMP_NUM_THREADS=2 "$CBEDNET" simulate --out "$SCRATCH/ms3" "${common[@]}" "${ms[@]}" --threads 2 > /dev/null
grep -q '"samples": {"train": ' "$SCRATCH/ms2.json" || fail "no summary: $(cat "$SCRATCH/ms2.json")"

"$PY" - "$SCRATCH" <<'PYEOF' || fail "multislice files differ from the kinematic layout or between rank counts"
import glob, sys
import h5py, numpy as np
root = sys.argv[1]
def load(run):
    out = {}
    for path in sorted(glob.glob(f"{root}/{run}/*/*.h5")):
        split = path.split("/")[-2]
        with h5py.File(path, "r") as f:
            for name, g in f.items():
                attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in g.attrs.items()}
                out[name] = (split, attrs, g["cbed_stack"][()])
    return out
kin, one, two, three = load("kin"), load("ms1"), load("ms2"), load("ms3")
assert sorted(kin) == sorted(one) == sorted(two) and len(kin) == 30, (sorted(kin), sorted(one), sorted(two))
for name in kin:
    split_k, attrs_k, stack_k = kin[name]
    split_1, attrs_1, stack_1 = one[name]
    assert split_k == split_1, name
    assert attrs_k == attrs_1, (name, attrs_k, attrs_1)  # labels, energies, projections, lattice
    assert stack_1.shape == (3, 128, 128) and stack_1.dtype == np.float32, stack_1.shape
    assert np.all(stack_1 >= 0) and np.all(np.isfinite(stack_1))
    totals = stack_1.reshape(3, -1).sum(axis=1) / 128**2  # incident intensity is 128^2
    assert np.all(totals > 0.9) and np.all(totals <= 1.0001), totals
    assert not np.array_equal(stack_1, stack_k)
    assert np.array_equal(stack_1, two[name][2]), f"{name}: 1 and 2 ranks differ"
    assert np.array_equal(stack_1, three[name][2]), f"{name}: 1 and 2 threads differ"
print("multislice layout ok")
PYEOF

# The SMC preset: 512^2 over 100 A, 8 x 8 probes, band limit at Nyquist, slices of d_hkl (0 in the JSON).
"$CBEDNET" simulate --physics multislice --preset smc --bench --materials 0 > "$SCRATCH/bench.json"
for field in '"size": 512' '"cell_angstrom": 100' '"probes": 64' '"band_limit": 1' '"phonon_configurations": 1'; do
  grep -q "$field" "$SCRATCH/bench.json" || fail "preset smc: no $field in $(cat "$SCRATCH/bench.json")"
done

# Bad input: one line naming the option, non-zero exit, no output directory.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1
  shift
  if "$CBEDNET" simulate --out "$SCRATCH/bad" --materials 1 "$@" > "$SCRATCH/err.txt" 2>&1; then
    fail "accepted: $*"
  fi
  grep -q -- "$pattern" "$SCRATCH/err.txt" || fail "for $*: expected '$pattern' in: $(cat "$SCRATCH/err.txt")"
  [[ ! -e "$SCRATCH/bad" ]] || fail "for $*: output written"
}
expect_error "--cell" --physics multislice --size 128 --cell 20
expect_error "--size" --physics multislice --size 64 --cell 100
expect_error "--physics" --physics bloch
expect_error "--preset" --physics multislice --preset nope
expect_error "only with --physics multislice" --probe-grid 4
expect_error "--slice-thickness" --physics multislice --size 128 --slice-thickness 500
# --engine cuda: without CUDA in the build or without a device, one clear line and nothing written.
if "$CBEDNET" simulate --out "$SCRATCH/gpu" --materials 1 --size 128 --samples-per-material 1 --probe-grid 2 \
  --thickness 20 --physics multislice --engine cuda > "$SCRATCH/err.txt" 2>&1; then
  [[ -s "$SCRATCH/gpu/train/batch_train_0.h5" || -d "$SCRATCH/gpu" ]] || fail "--engine cuda: no output"
else
  grep -Eq -- "--engine cuda: (this cbednet was built without CUDA|no CUDA device)" "$SCRATCH/err.txt" ||
    fail "--engine cuda: unclear error: $(cat "$SCRATCH/err.txt")"
  [[ ! -e "$SCRATCH/gpu" ]] || fail "--engine cuda: output written after the error"
fi
echo "simulate_multislice: ok"
