#!/usr/bin/env bash
# The reader benchmark series of docs/data-format.md §4: a packed float32 file of 256 samples of 3x256x256
# (201 MB), global batch 16, warm page cache, ranks 1, 2 and 4 (4 oversubscribe a 2-core machine), REPEATS runs
# each with the default settings plus one two-phase run per rank count, then REPEATS cold-cache runs per rank count.
# Writes one JSON line per run to OUT (default results.jsonl beside this script).
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
file=$(mktemp --suffix=.h5 "${TMPDIR:-/tmp}/cbednet-io-series-XXXXXX")
trap 'rm -f "$file"' EXIT
rm -f "$file"
# write the file once (a 1-epoch run that keeps it)
"$bench" --epochs 1 --keep | sed -E 's/.*"file": "([^"]*)".*/\1/' | xargs -I{} mv {} "$file"
: > "$out"
for ranks in 1 2 4; do
  for ((i = 0; i < repeats; ++i)); do
    cbednet_mpiexec "$ranks" "$bench" --file "$file" --epochs "${EPOCHS:-48}" >> "$out"
  done
  cbednet_mpiexec "$ranks" "$bench" --file "$file" --epochs "${EPOCHS:-48}" --two-phase >> "$out"
  for ((i = 0; i < repeats; ++i)); do
    cbednet_mpiexec "$ranks" "$bench" --file "$file" --epochs "${COLD_EPOCHS:-4}" --cold >> "$out"
  done
done
echo "wrote $out ($(wc -l < "$out") runs)"
