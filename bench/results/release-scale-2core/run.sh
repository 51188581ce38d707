#!/usr/bin/env bash
# The SMC-2019 release's scale on this machine (docs/data-format.md §5): an SMC tree with the release's shape
# (1,138 files, ~187k sample groups, its class imbalance per split; bench/io/cbednet_release_tree) at 8x8 pixels,
# then: indexing it on one rank (cbednet inspect), converting it on 1 and 2 ranks, and STEPS steps of training from
# the directory itself and from the packed file (2 ranks, a tiny model), with the time to the first step.
# One JSON line per measurement to OUT (default results.jsonl beside this script).   BUILD (default build), SCALE
# (default 1.0: the whole release's sample count), SIZE (default 8), FILES (default 1138),
# CONVERT_RANKS (default "1 2"; empty: no conversion), SPECS (below)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cbednet="$root/${BUILD:-build}/bin/cbednet"
# The MPI launcher and its options as the build was configured (cmake/CBEDNetMpiLauncher.cmake).
source "$root/${BUILD:-build}/mpi-launcher.sh"
tree="$root/${BUILD:-build}/bench/cbednet_release_tree"
out=${OUT:-"$here/results.jsonl"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/cbednet-release-XXXXXX")
trap 'rm -rf "$work"' EXIT
commit=$(git -C "$root" rev-parse --short HEAD)
now() { date +%s.%N; }
record() {  # name seconds [extra JSON fields]
  printf '{"benchmark": "release_scale", "step": "%s", "seconds": %.2f, "commit": "%s", "machine": "%s", "cores": %d%s}\n' \
    "$1" "$2" "$commit" "$(hostname)" "$(nproc --all)" "${3:-}" | tee -a "$out"
}

generated=$("$tree" --classes "$root/../shared/research/smc2019-class-distribution.csv" --out "$work/tree" \
  --scale "${SCALE:-1.0}" --size "${SIZE:-8}" --files "${FILES:-1138}")
seconds=$(echo "$generated" | sed -E 's/.*"seconds": ([0-9.]+).*/\1/')
files=$(echo "$generated" | sed -E 's/.*"files": ([0-9]+).*/\1/')
samples=$(echo "$generated" | sed -E 's/.*"samples": ([0-9]+).*/\1/')
record generate "$seconds" ", \"files\": $files, \"samples\": $samples"

sync; t0=$(now); "$cbednet" inspect "$work/tree" > "$work/inspect.txt"; t1=$(now)
record index_1_rank "$(echo "$t1 - $t0" | bc -l)" ", \"files\": $files, \"samples\": $samples"

for ranks in ${CONVERT_RANKS-1 2}; do
  rm -f "$work/packed.h5"
  t0=$(now)
  cbednet_mpiexec "$ranks" "$cbednet" convert --in "$work/tree" --out "$work/packed.h5" --quiet > /dev/null
  t1=$(now)
  record "convert_${ranks}_ranks" "$(echo "$t1 - $t0" | bc -l)" ", \"samples\": $samples"
done

# Training from each source, STEPS steps (default 60; 0: one whole epoch), batch 512 on 2 ranks; the first progress
# line (--log-every 1) marks the first step. The per-step time from 1,138 files against one packed file shows
# whether a step costs more with more files.
steps=${STEPS:-60}
# SPECS: source:G pairs; by default the directory twice, shuffled across all files (--shuffle-files 0, every file
# kept open) and within groups of 16 files, then the packed file.
for spec in ${SPECS:-tree:0 tree:16 packed.h5:0}; do
  source=${spec%%:*} group=${spec##*:}
  log="$work/train-$source-$group.log"
  t0=$(now)
  first=""
  while IFS= read -r line; do
    echo "$line" >> "$log"
    if [[ -z $first && $line == *"step 1/"* ]]; then first=$(now); fi
  done < <(cbednet_mpiexec 2 "$cbednet" train --data "$work/$source" --train-split train --arch basic:1 \
             --width 8 --stem small --epochs 1 --max-steps "$steps" --batch 512 --lr 0.1 --log-every 1 \
             --val-split none --shuffle-files "$group" --out "$work/run-$source-$group" 2>&1)
  t1=$(now)
  grep -q "step $steps/" "$log" || [[ $steps -eq 0 ]] || { cat "$log" >&2; echo "run.sh: training from $source failed" >&2; exit 1; }
  # The steps taken: STEPS, or with STEPS=0 (one whole epoch) the last progress line's step number.
  done_steps=$(sed -n 's/.*step \([0-9]*\)\/.*/\1/p' "$log" | tail -1)
  grep -q "training finished\|stopped at global step" "$log" || { cat "$log" >&2; echo "run.sh: training from $source did not finish" >&2; exit 1; }
  name=$( [[ $source == tree ]] && echo "directory_shuffle_files_$group" || echo packed )
  first_step=$(echo "${first:-$t1} - $t0" | bc -l)
  record "train_from_$name" "$(echo "$t1 - $t0" | bc -l)" \
    ", \"steps\": $done_steps, \"first_step_seconds\": $(printf '%.2f' "$first_step"), \"seconds_per_step_after_first\": $(printf '%.4f' "$(echo "($t1 - $first) / ($done_steps - 1)" | bc -l)"), \"samples\": $samples, \"ranks\": 2, \"batch\": 512"
done
