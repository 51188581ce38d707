#!/usr/bin/env bash
# Soak: a small model trained for STEPS steps (default 2000) on 2 CPU ranks (tiny simulated data, basic:1,1
# width 8 at 32x32), sampling the resident memory of both ranks every SAMPLE seconds; then the same command again
# as a reference run and an h5diff of the two final checkpoints (training must be deterministic). Prints the
# figures docs/reliability.md records. Not a CI test (about 10-20 minutes on 2 cores).
#   CBEDNET (default build-rel/bin/cbednet), OUT (default /tmp/cbednet-soak), STEPS, SAMPLE (default 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cbednet=${CBEDNET:-"$root/build-rel/bin/cbednet"}
out=${OUT:-/tmp/cbednet-soak}
steps=${STEPS:-2000}
sample=${SAMPLE:-1}
export OMP_NUM_THREADS=1
# The launcher as the build was configured (cmake/CBEDNetMpiLauncher.cmake); stops here if it is missing.
source "${MPI_LAUNCHER:-$(dirname "$cbednet")/../mpi-launcher.sh}"
cbednet_mpiexec_argv 2 || exit 1
rm -rf "$out" && mkdir -p "$out" && cd "$out"
"$cbednet" simulate --out data --materials 48 --space-groups 2,14,62,225 --size 32 --seed 11 \
  --samples-per-material 4 > /dev/null
args=(--data data --arch basic:1,1 --width 8 --stem small --log-scale --batch 8 --epochs 100000 --max-steps "$steps"
      --val-split none --log-every 100 --checkpoint-every 500 --keep-checkpoints 2 --seed 5)

# run NAME: trains into NAME/, writing NAME.rss (seconds since start, RSS of rank 0 and rank 1 in KiB).
run() {
  local name=$1 start
  start=$(date +%s)
  # The ranks carry a tag: Open MPI starts them as mpiexec's children, Hydra (MPICH) under its proxy.
  CBEDNET_SOAK_TAG="$name.$$" "${CBEDNET_MPIEXEC_ARGV[@]}" "$cbednet" train "${args[@]}" --out "$name" \
    > "$name.log" 2>&1 &
  local launcher=$!
  : > "$name.rss"
  while kill -0 "$launcher" 2>/dev/null; do
    local pids line
    pids=$(for p in $(pgrep -x cbednet); do
      tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "CBEDNET_SOAK_TAG=$name.$$" && echo "$p"
    done | sort -n || true)
    line="$(( $(date +%s) - start ))"
    for p in $pids; do line+=" $(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)"; done
    [[ -z "$pids" ]] || echo "$line" >> "$name.rss"
    sleep "$sample"
  done
  wait "$launcher"
  echo "$name: $(( $(date +%s) - start )) s"
}
run soak
run reference
final=$(ls soak/checkpoints | tail -1)
[[ "$final" == "ckpt-$(printf '%08d' "$steps").h5" ]] || { echo "soak did not reach step $steps ($final)"; exit 1; }
same=yes
for group in parameters momentum buffers; do
  h5diff -q "soak/checkpoints/$final" "reference/checkpoints/$final" /$group /$group || same=no
done
# Memory: the first sample after warm-up (3 s) against the last, per rank.
awk -v s="$sample" 'NR==1{next} $1>=3 && !w{w=1; a0=$2; a1=$3; t0=$1} {z0=$2; z1=$3; t1=$1; m0=(m0>$2?m0:$2); m1=(m1>$3?m1:$3)}
  END{printf "rss_kib rank0 %d -> %d (max %d, %+d), rank1 %d -> %d (max %d, %+d), from %d s to %d s, %d samples\n",
      a0, z0, m0, z0-a0, a1, z1, m1, z1-a1, t0, t1, NR}' soak.rss
grep -E "steps|img/s" soak.log | tail -2
echo "final checkpoint $final identical to the reference run: $same"
[[ $same == yes ]]
