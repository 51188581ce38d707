#!/usr/bin/env bash
# Issue 17 item 5: what dynamical (multislice) simulation changes for the classifier. Six Laue classes, each with a
# centrosymmetric space group and a non-centrosymmetric one of the same Laue class (Friedel's law makes their
# kinematic patterns share the Laue symmetry: the pairs are what it hides). The same materials are simulated
# kinematically and by multislice (same seed: the same crystals, projections, energies and split); one model is
# trained on each with the same budget, and both are tested on the multislice test split (materials never seen in
# training). Prints and writes $OUT/results.json: top-1, crystal-system and per-Laue-class accuracy, and the share
# of each model's errors that stay within the true Laue class (confusing a group with its Friedel partner).
#   bash bench/physics_gap/run.sh       Environment: BUILD_DIR (build), OUT (bench/results/physics-gap-2core),
#   WORK (/tmp/cbednet-physics-gap: data and runs), MATERIALS (480), ENERGIES (2), SIZE (128), EPOCHS (15), RANKS (2)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cbednet=${BUILD_DIR:-$root/build}/bin/cbednet
out=${OUT:-$root/bench/results/physics-gap-2core}
work=${WORK:-/tmp/cbednet-physics-gap}
materials=${MATERIALS:-480}
energies=${ENERGIES:-2}
size=${SIZE:-128}
epochs=${EPOCHS:-15}
ranks=${RANKS:-2}
# (centrosymmetric, non-centrosymmetric) per Laue class: -1, 2/m, mmm, 4/mmm, 6/mmm, m-3m
groups=2,1,14,4,62,33,139,119,194,186,225,216
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))}
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake).
source "${BUILD_DIR:-$root/build}/mpi-launcher.sh"
cbednet_mpiexec_argv "$ranks"
mpirun=("${CBEDNET_MPIEXEC_ARGV[@]}")
[[ -x $cbednet ]] || { echo "physics-gap: no $cbednet (build first)" >&2; exit 1; }
mkdir -p "$out" "$work"
simulate=(--materials "$materials" --space-groups "$groups" --samples-per-material "$energies" --size "$size"
          --seed 2019 --quiet)
for physics in kinematic multislice; do
  [[ -f $work/$physics.done ]] && continue
  rm -rf "${work:?}/$physics"
  extra=()
  [[ $physics == multislice ]] && extra=(--probe-grid 2)
  start=$(date +%s)
  "${mpirun[@]}" "$cbednet" simulate --out "$work/$physics" --physics "$physics" "${simulate[@]}" "${extra[@]}" \
    < /dev/null > "$work/$physics.simulate.json"
  echo "simulate $physics: $(( $(date +%s) - start )) s"
  touch "$work/$physics.done"
done
train=(--arch basic:1,1,1,1 --width 16 --epochs "$epochs" --batch 32 --lr 0.1 --warmup-epochs 1 --weight-decay 5e-4
       --label-smoothing 0.1 --log-scale --downsample 2 --seed 1 --quiet --val-split none)
for physics in kinematic multislice; do
  run="$work/run-$physics"
  if [[ ! -f $run/train.done ]]; then
    rm -rf "$run"
    start=$(date +%s)
    "${mpirun[@]}" "$cbednet" train --data "$work/$physics" --out "$run" "${train[@]}" < /dev/null > /dev/null
    echo "train on $physics: $(( $(date +%s) - start )) s"
    touch "$run/train.done"
  fi
  for tested in multislice kinematic; do  # the multislice test set, and the model's own kind for comparison
    [[ -f $run/predictions-on-$tested.csv ]] && continue
    "${mpirun[@]}" "$cbednet" predict --checkpoint "$run" --input "$work/$tested" --split test \
      --out "$run/predictions-on-$tested.csv.partial" --quiet < /dev/null
    mv "$run/predictions-on-$tested.csv.partial" "$run/predictions-on-$tested.csv"
  done
done
/usr/bin/python3 "$root/bench/physics_gap/summarise.py" "$work" "$groups" "$(git -C "$root" rev-parse --short HEAD)" \
  > "$out/results.json.partial"
mv "$out/results.json.partial" "$out/results.json"
cat "$out/results.json"
