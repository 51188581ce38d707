#!/usr/bin/env bash
# Parallel conversion (cbednet convert under mpiexec, docs/data-format.md §2): source MB/s converted by 1, 2 and 4
# ranks against the raw read rate of the same files (cat, warm page cache) measured in the same run, REPEATS runs
# each. The source: simulated SMC files, MATERIALS materials x 10 energies of 3xSIZExSIZE float32 (default 160 and
# 256: 1,600 samples, 1.26 GB), written by 8 simulating ranks (up to 8 files per split). Times include mpiexec
# start-up. One JSON line per run to OUT (default results.jsonl beside this script).   BUILD (default build), REPEATS (default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cbednet="$root/${BUILD:-build}/bin/cbednet"
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake).
source "$root/${BUILD:-build}/mpi-launcher.sh"
out=${OUT:-"$here/results.jsonl"}
repeats=${REPEATS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/cbednet-convert-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
cbednet_mpiexec 8 "$cbednet" simulate --out "$work/data" --materials "${MATERIALS:-160}" \
  --size "${SIZE:-256}" --seed 7 --quiet > /dev/null
mapfile -t files < <(find "$work/data" -name '*.h5' | sort)
bytes=$(cat "${files[@]}" | wc -c)
now() { date +%s.%N; }
commit=$(git -C "$root" rev-parse --short HEAD)
for _ in $(seq "$repeats"); do
  cat "${files[@]}" > /dev/null  # warm
  t0=$(now); cat "${files[@]}" > /dev/null; t1=$(now)
  raw=$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)
  for ranks in 1 2 4; do
    rm -f "$work/packed.h5"
    t0=$(now)
    cbednet_mpiexec "$ranks" "$cbednet" convert --in "$work/data" --out "$work/packed.h5" --quiet > /dev/null
    t1=$(now)
    seconds=$(echo "$t1 - $t0" | bc -l)
    printf '{"benchmark": "convert", "commit": "%s", "machine": "%s", "cores": %d, "ranks": %d, "files": %d, "source_bytes": %d, "seconds": %.3f, "mb_per_s": %.1f, "raw_read_mb_per_s": %.1f, "fraction_of_raw": %.3f}\n' \
      "$commit" "$(hostname)" "$(nproc --all)" "$ranks" "${#files[@]}" "$bytes" "$seconds" \
      "$(echo "$bytes / $seconds / 1000000" | bc -l)" "$raw" "$(echo "$bytes / $seconds / 1000000 / $raw" | bc -l)" | tee -a "$out"
  done
done
