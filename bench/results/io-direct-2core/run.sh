#!/usr/bin/env bash
# Direct chunk reads (LoaderOptions::io_threads) against the HDF5 path, docs/data-format.md §4: the packed float32
# file of io-reader-2core (256 samples of 3x256x256, 201 MB), global batch 16, warm page cache, ranks 1, 2 and 4,
# io threads 0 (collective HDF5), 1 and 2, REPEATS runs each; then REPEATS cold runs per rank count with 2 threads.
# One JSON line per run to OUT (default results.jsonl beside this script).
#   BUILD (default build), REPEATS (default 3), EPOCHS (default 48), COLD_EPOCHS (default 4)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bench="$root/${BUILD:-build}/bench/cbednet_bench_io"
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake).
source "$root/${BUILD:-build}/mpi-launcher.sh"
out=${OUT:-"$here/results.jsonl"}
repeats=${REPEATS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
file=$(mktemp --suffix=.h5 "${TMPDIR:-/tmp}/cbednet-io-direct-XXXXXX")
trap 'rm -f "$file"' EXIT
rm -f "$file"
"$bench" --epochs 1 --keep | sed -E 's/.*"file": "([^"]*)".*/\1/' | xargs -I{} mv {} "$file"
: > "$out"
for ranks in 1 2 4; do
  for ((i = 0; i < repeats; ++i)); do
    for threads in 0 1 2; do
      cbednet_mpiexec "$ranks" "$bench" --file "$file" --epochs "${EPOCHS:-48}" --io-threads "$threads" >> "$out"
    done
  done
done
for ranks in 1 2 4; do
  for ((i = 0; i < repeats; ++i)); do
    cbednet_mpiexec "$ranks" "$bench" --file "$file" --epochs "${COLD_EPOCHS:-4}" --cold --io-threads 2 >> "$out"
  done
done
echo "wrote $out ($(wc -l < "$out") runs)"
