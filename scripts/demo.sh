#!/usr/bin/env bash
# The main job, small enough for a laptop-class CPU: simulate a CBED dataset -> train a small ResNet on 2 MPI
# ranks -> evaluate on the material-disjoint test split -> print the metrics next to the majority baseline.
# Builds first if needed. Every setting can be overridden from the environment (see below).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$root/build"}
out=${DEMO_DIR:-"$root/demo-run"}
ranks=${RANKS:-2}
materials=${MATERIALS:-320}
space_groups=${SPACE_GROUPS:-2,14,62,139,166,194,225,227}   # one or two per crystal system
size=${SIZE:-64}
epochs=${EPOCHS:-12}

[[ -x "$build_dir/bin/cbednet" ]] || BUILD_DIR="$build_dir" "$root/scripts/build.sh" -DCBEDNET_CUDA=OFF
cbednet="$build_dir/bin/cbednet"
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake); a missing launcher
# stops here, before any rank starts.
source "$build_dir/mpi-launcher.sh"
cbednet_mpiexec_argv "$ranks" || exit 1
mpirun=("${CBEDNET_MPIEXEC_ARGV[@]}")
# One thread per rank when the ranks fill the cores; idle OpenMP threads sleep instead of spinning.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))} OMP_WAIT_POLICY=passive

rm -rf "$out"
mkdir -p "$out"
echo "== simulate: $materials materials of space groups $space_groups, ${size}x${size} pixels"
"${mpirun[@]}" "$cbednet" simulate --out "$out/data" --materials "$materials" --space-groups "$space_groups" \
  --size "$size" --seed 2019
"$cbednet" inspect "$out/data" | head -12

echo "== train on $ranks MPI ranks (CPU)"
"${mpirun[@]}" "$cbednet" train --data "$out/data" --out "$out/run" --arch basic:1,1,1,1 --width 16 \
  --epochs "$epochs" --batch 32 --lr 0.1 --warmup-epochs 1 --weight-decay 5e-4 --label-smoothing 0.1 --log-scale \
  --seed 1 --log-every 25

echo "== evaluate on the test split (materials never seen in training)"
"${mpirun[@]}" "$cbednet" evaluate --checkpoint "$out/run" --data "$out/data" --split test --out "$out/test-metrics.json"
"${mpirun[@]}" "$cbednet" predict --checkpoint "$out/run" --input "$out/data" --split test \
  --out "$out/test-predictions.csv" --quiet
echo "== report: training curves, confusion matrices and a gallery of test samples in one HTML page"
"$cbednet" report "$out/run" --eval "$out/test-metrics.json" --predictions "$out/test-predictions.csv"
echo "run directory: $out/run   metrics: $out/test-metrics.json   predictions: $out/test-predictions.csv"
echo "report: $out/run/report/report.html"
