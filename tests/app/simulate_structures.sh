#!/usr/bin/env bash
# cbednet simulate --structures: a folder of CIF files becomes the SMC layout, one material per file, labelled by
# spglib, named by the file, identical on 1 and 2 ranks; a bad file stops the run before anything is written (named
# with its line) unless --skip-bad lists and counts it; a CIF whose symbol disagrees with its atoms is warned about.
source "$(dirname "$0")/lib.sh"
PY=${CBEDNET_PYTHON:-/usr/bin/python3}
CIFS="$SCRATCH/cifs"
mkdir -p "$CIFS"
cell() { printf '_cell_length_a %s\n_cell_length_b %s\n_cell_length_c %s\n_cell_angle_alpha %s\n_cell_angle_beta %s\n_cell_angle_gamma %s\n' "$@"; }
atoms='loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z'
{ echo data_Si; cell 5.431 5.431 5.431 90 90 90; echo "_symmetry_space_group_name_H-M 'F d -3 m'"; echo "$atoms"
  echo "Si1 Si 0 0 0"; } > "$CIFS/Si.cif"
{ echo data_GaAs; cell 5.6533 5.6533 5.6533 90 90 90; echo "_space_group_name_H-M_alt 'F -4 3 m'"; echo "$atoms"
  echo "Ga1 Ga 0 0 0"; echo "As1 As 0.25 0.25 0.25"; } > "$CIFS/GaAs.cif"
{ echo data_NaCl; cell 5.6402 5.6402 5.6402 90 90 90; echo "_symmetry_space_group_name_Hall '-F 4 2 3'"
  echo "$atoms"; echo "Na1 Na+ 0 0 0"; echo "Cl1 Cl- 0.5 0.5 0.5"; } > "$CIFS/NaCl.cif"
{ echo data_TiO2; cell 4.5937 4.5937 2.9587 90 90 90; echo "_symmetry_Int_Tables_number 136"; echo "$atoms"
  echo "Ti1 Ti 0 0 0"; echo "O1 O 0.3048 0.3048 0"; } > "$CIFS/TiO2.cif"
common=(--size 64 --samples-per-material 2 --seed 3 --quiet)

"$CBEDNET" simulate --structures "$CIFS" --out "$SCRATCH/one" "${common[@]}" > "$SCRATCH/one.json"
mpirun2 "$CBEDNET" simulate --structures "$CIFS" --out "$SCRATCH/two" "${common[@]}" > "$SCRATCH/two.json"
grep -q '"structures": 4, "skipped": 0' "$SCRATCH/one.json" || fail "summary: $(cat "$SCRATCH/one.json")"
"$PY" - "$SCRATCH" <<'PYEOF' || fail "structure files: wrong labels, names or rank dependence"
import glob, sys
import h5py, numpy as np
root = sys.argv[1]
def load(run):
    out = {}
    for path in sorted(glob.glob(f"{root}/{run}/*/*.h5")):
        with h5py.File(path, "r") as f:
            for name, g in f.items():
                out[name] = (dict(g.attrs), g["cbed_stack"][()])
    return out
one, two = load("one"), load("two")
assert sorted(one) == sorted(two) and len(one) == 8, (sorted(one), sorted(two))
def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)
# material m is the m-th file in name order: GaAs, NaCl, Si, TiO2
expected = {0: ("GaAs", "216"), 1: ("NaCl", "225"), 2: ("Si", "227"), 3: ("TiO2", "136")}
for name, (attrs, stack) in one.items():
    m = int(name.split("_")[1])
    assert (text(attrs["material"]), text(attrs["space_group"])) == expected[m], (name, attrs)
    assert stack.shape == (3, 64, 64) and np.all(np.isfinite(stack)) and stack.sum() > 0
    assert np.array_equal(stack, two[name][1]), f"{name}: 1 and 2 ranks differ"
print("structures ok")
PYEOF
"$CBEDNET" inspect "$SCRATCH/one" > /dev/null || fail "inspect cannot read the structure run"

# Multislice from a CIF: the same layout.
"$CBEDNET" simulate --structures "$CIFS/Si.cif" --out "$SCRATCH/ms" --physics multislice --probe-grid 1 \
  --thickness 10 --size 128 --samples-per-material 1 --quiet > /dev/null || fail "multislice from a CIF"
ls "$SCRATCH"/ms/*/batch_*_0.h5 > /dev/null || fail "multislice wrote no file"

# A bad file stops the run before anything is written, named with its line; --skip-bad lists and counts it.
{ echo data_bad; cell 5.0 5.0 -5.0 90 90 90; echo "_symmetry_space_group_name_H-M 'P 1'"; echo "$atoms"
  echo "Si1 Si 0 0 0"; } > "$CIFS/bad.cif"
if mpirun2 "$CBEDNET" simulate --structures "$CIFS" --out "$SCRATCH/stopped" "${common[@]}" > /dev/null 2> "$SCRATCH/err"; then
  fail "a bad CIF did not stop the run"
fi
grep -q "bad.cif:4: _cell_length_c must be positive, got -5" "$SCRATCH/err" || fail "no file:line: $(cat "$SCRATCH/err")"
grep -q "1 of 5 CIF files are bad" "$SCRATCH/err" || fail "no count: $(cat "$SCRATCH/err")"
[[ ! -e "$SCRATCH/stopped" ]] || fail "a stopped run wrote $(find "$SCRATCH/stopped")"
mpirun2 "$CBEDNET" simulate --structures "$CIFS" --out "$SCRATCH/skipped" "${common[@]}" --skip-bad \
  > "$SCRATCH/skipped.json" 2> "$SCRATCH/err" || fail "--skip-bad failed: $(cat "$SCRATCH/err")"
grep -q '"structures": 5, "skipped": 1' "$SCRATCH/skipped.json" || fail "skip count: $(cat "$SCRATCH/skipped.json")"
grep -q "skipped: .*bad.cif:4:" "$SCRATCH/err" || fail "skipped file not listed: $(cat "$SCRATCH/err")"

# A symbol that disagrees with the atoms: labelled by spglib, with a warning naming the file.
# Here rock salt described in Pm-3m (1a + 3c Na, 1b + 3d Cl: the same 8 atoms). The same atoms written out in P1
# are not warned about: P1 asserts no symmetry.
{ echo data_rocksalt_as_Pm-3m; cell 5.6402 5.6402 5.6402 90 90 90; echo "_symmetry_space_group_name_H-M 'P m -3 m'"
  echo "$atoms"; echo "Na1 Na 0 0 0"; echo "Na2 Na 0 0.5 0.5"; echo "Cl1 Cl 0.5 0.5 0.5"; echo "Cl2 Cl 0.5 0 0"
} > "$SCRATCH/pm3m.cif"
"$CBEDNET" simulate --structures "$SCRATCH/pm3m.cif" --out "$SCRATCH/pm3m" "${common[@]}" > /dev/null 2> "$SCRATCH/err"
grep -q "warning: .*pm3m.cif:8: the CIF states space group 'P m -3 m' (No. 221) but spglib finds Fm-3m (No. 225)" \
  "$SCRATCH/err" || fail "no disagreement warning: $(cat "$SCRATCH/err")"
sed -e "s/'P m -3 m'/'P 1'/" -e 's/^Na2 .*/&\nNa3 Na 0.5 0 0.5\nNa4 Na 0.5 0.5 0/' \
  -e 's/^Cl2 .*/&\nCl3 Cl 0 0.5 0\nCl4 Cl 0 0 0.5/' "$SCRATCH/pm3m.cif" > "$SCRATCH/p1.cif"
"$CBEDNET" simulate --structures "$SCRATCH/p1.cif" --out "$SCRATCH/p1" "${common[@]}" > /dev/null 2> "$SCRATCH/err"
[[ ! -s "$SCRATCH/err" ]] || fail "P1 warned: $(cat "$SCRATCH/err")"
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1]); a=f[list(f)[0]].attrs['space_group']; \
assert (a.decode() if isinstance(a, bytes) else str(a)) == '225', a" "$SCRATCH"/p1/*/batch_*_0.h5 || fail "P1 rock salt label"
# Options that belong to one mode only.
if "$CBEDNET" simulate --structures "$CIFS" --materials 3 --out "$SCRATCH/x" 2> "$SCRATCH/err"; then fail "--materials taken"; fi
grep -q -- "--materials: not with --structures" "$SCRATCH/err" || fail "$(cat "$SCRATCH/err")"
# One material, one geometry: kinematic and multislice along [110], one file each, that inspect --preview draws.
"$CBEDNET" simulate --structures "$CIFS/GaAs.cif" --zone 1 1 0 --energy-kev 120 --thickness 150 --semiangle 3 \
  --size 64 --out "$SCRATCH/zone/kin.h5" > "$SCRATCH/zone.json" || fail "--zone kinematic"
grep -q '"space_group": 216, "zone": \[1, 1, 0\], "physics": "kinematic", "energy_kev": 120, "semiangle_mrad": 3' \
  "$SCRATCH/zone.json" || fail "zone summary: $(cat "$SCRATCH/zone.json")"
"$CBEDNET" simulate --structures "$CIFS/GaAs.cif" --beam 0 0 1 --physics multislice --size 128 --thickness 20 \
  --probe 0.5,0.5 --out "$SCRATCH/zone/ms.h5" > /dev/null || fail "--beam multislice"
"$PY" - "$SCRATCH/zone" <<'PYEOF' || fail "zone files"
import sys
import h5py, numpy as np
for name, size in (("kin", 64), ("ms", 128)):
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "r") as f:
        assert list(f) == ["sample_0_0"], list(f)
        stack = f["sample_0_0/cbed_stack"][()]
        assert stack.shape == (3, size, size) and np.all(np.isfinite(stack)) and stack[0].sum() > 0
        assert np.array_equal(stack[0], stack[1]) and np.array_equal(stack[0], stack[2])
print("zone files ok")
PYEOF
"$CBEDNET" inspect "$SCRATCH/zone/ms.h5" --preview "$SCRATCH/zone/ms.png" > /dev/null || fail "inspect --preview"
[[ -s "$SCRATCH/zone/ms.png" ]] || fail "no preview"
# Zinc blende's polarity from the command line: by multislice along [110] GaAs's 002 and 00-2 discs differ (0.17
# here) and Si's agree (0.006: this square cell is not commensurate with the lattice and the probe sits on an atom
# column, not on the 2-fold axis; tests/io/sim/test_cif_zone.cpp has the exact case). The frame's y axis is [00-1],
# so 002 lies 2/a above the centre: rows c - 2L/a with the pattern pixel 1/L, L = 64 A here.
for material in GaAs Si; do
  "$CBEDNET" simulate --structures "$CIFS/$material.cif" --zone 1 1 0 --physics multislice --size 128 \
    --thickness 200 --probe 0.5,0.5 --phonons 0 --out "$SCRATCH/zone/$material-110.h5" > /dev/null ||
    fail "$material [110] multislice"
done
"$PY" - "$SCRATCH/zone" <<'PYEOF' || fail "[110] polarity: GaAs's 002 / 00-2 discs equal or Si's unequal"
import sys
import h5py, numpy as np
def asymmetry(material, a):
    with h5py.File(f"{sys.argv[1]}/{material}-110.h5", "r") as f:
        g = f["sample_0_0"]
        pattern = g["cbed_stack"][0].astype(np.float64)
        alpha = float(g.attrs["semi_angles_rad"].ravel()[0])
    L, n, wavelength = 64.0, 128, 0.025079  # A, pixels, A at 200 kV
    radius = 0.9 * alpha / wavelength * L
    rows, cols = np.mgrid[0:n, 0:n]
    disc = lambda dy: pattern[(rows - (n // 2 + dy)) ** 2 + (cols - n // 2) ** 2 <= radius ** 2].sum()
    plus, minus = disc(-2 * L / a), disc(2 * L / a)
    print(f"{material} [110] 002 {plus:.4g} 00-2 {minus:.4g}")
    return abs(plus - minus) / (0.5 * (plus + minus))
gaas, si = asymmetry("GaAs", 5.6533), asymmetry("Si", 5.431)
assert gaas > 0.05 and si < 0.03, (gaas, si)
PYEOF
for bad in "--zone 0 0 0:--zone: 0 0 0 is not a direction" "--zone 1 1:--zone: expected three integers" \
    "--zone 1 1 0 --probe 0.5,0.5:--probe: only with --physics multislice" \
    "--beam 1 1 1 --energy-kev 300:--energy-kev: 300 keV is outside 100..200 keV" \
    "--zone 1 1 0 --materials 3:--materials: not with --zone or --beam"; do
  # shellcheck disable=SC2086
  if "$CBEDNET" simulate --structures "$CIFS/Si.cif" ${bad%%:*} --out "$SCRATCH/zone/bad.h5" 2> "$SCRATCH/err"; then
    fail "accepted ${bad%%:*}"
  fi
  grep -q -- "${bad#*:}" "$SCRATCH/err" || fail "${bad%%:*}: $(cat "$SCRATCH/err")"
done
if "$CBEDNET" simulate --structures "$CIFS" --zone 1 1 0 --out "$SCRATCH/zone/bad.h5" 2> "$SCRATCH/err"; then
  fail "--zone took a folder"
fi
grep -q "one material at a time, but --structures has 5 CIF files" "$SCRATCH/err" || fail "$(cat "$SCRATCH/err")"
[[ ! -e "$SCRATCH/zone/bad.h5" ]] || fail "a refused run wrote a file"
echo "simulate --structures ok"
