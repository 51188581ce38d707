#!/usr/bin/env bash
# Weak- and strong-scaling sweep of `cbednet bench` over rank counts and grids: for every rank count N, pure data
# parallelism (1 x N) and, at the same N, every pipeline depth P of PIPELINE_DEPTHS that gives a usable grid
# (P x N/P). Each point's JSON line is kept (with mode, ranks, P, D added) in OUT/results.jsonl; at the end
# scripts/plot_scaling.py turns them into OUT/scaling.csv and OUT/scaling.png (images/s and efficiency vs ranks).
# Runs inside an allocation (Slurm: srun; LSF: jsrun) or on one machine (mpirun).
#   jobs/scaling/sweep.sh                       # the defaults below
#   RANKS="1 2 4 8 16" MODES=weak DEVICE=cuda PRECISION=bf16 SIZE=512 jobs/scaling/sweep.sh
# Settings (environment, with defaults):
#   RANKS "1 2"   MODES "weak strong"   PIPELINE_DEPTHS "1 2 4"   GPUS_PER_NODE (grid check) 8
#   ARCH resnet50  SIZE 128  DEVICE cpu  PRECISION fp32  STEPS 3  WARMUP 1
#   BATCH_PER_RANK 8 (weak: global batch = BATCH_PER_RANK x N)   BATCH 16 (strong: fixed global batch)
#   MICRO 0 (0: whole share for P = 1; share / (2 P), rounded down to a divisor, for P > 1)
#   OUT scaling-<date>   CBEDNET (binary)   LAUNCHER (a command prefix with {n} for the rank count; default from
#   the batch system: srun / jsrun / the build's configured mpiexec, BUILD/mpi-launcher.sh or MPI_LAUNCHER)
#   EXTRA (more bench options)   PYTHON /usr/bin/python3
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/jobs/common/grid.sh"

ranks_list=${RANKS:-"1 2"}
modes=${MODES:-"weak strong"}
depths=${PIPELINE_DEPTHS:-"1 2 4"}
gpn=${GPUS_PER_NODE:-8}
out=${OUT:-$PWD/scaling-$(date +%Y%m%d-%H%M%S)}
cbednet=${CBEDNET:-$(command -v cbednet || echo "$root/build/bin/cbednet")}
python=${PYTHON:-/usr/bin/python3}
[[ -x "$cbednet" ]] || { cbednet_die "no cbednet binary at '$cbednet' (set CBEDNET=...)"; exit 1; }
if [[ -z "${LAUNCHER:-}" ]]; then
  if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    LAUNCHER="srun --ntasks={n} --kill-on-bad-exit=1"
  elif [[ -n "${LSB_JOBID:-}" ]]; then
    LAUNCHER="jsrun -n{n} -a1 -g1 -c${CPUS_PER_RANK:-7} -brs"
  else
    # One machine: the launcher and options the build was configured with (cmake/CBEDNetMpiLauncher.cmake).
    launcher_file=${MPI_LAUNCHER:-$(dirname "$cbednet")/../mpi-launcher.sh}
    [[ -f "$launcher_file" ]] ||
      { cbednet_die "no $launcher_file (the build's launcher settings): set LAUNCHER='mpiexec -n {n}' or MPI_LAUNCHER=..."; exit 1; }
    # shellcheck source=/dev/null
    source "$launcher_file"
    LAUNCHER="$CBEDNET_MPIEXEC $CBEDNET_MPIEXEC_NUMPROC_FLAG {n} ${CBEDNET_MPIEXEC_PREFLAGS[*]}"
  fi
fi
# The launcher must exist before any point starts a rank.
launcher_command=${LAUNCHER%% *}
command -v "$launcher_command" > /dev/null ||
  { cbednet_die "MPI launcher '$launcher_command' not found (LAUNCHER='$LAUNCHER'); set LAUNCHER or PATH"; exit 1; }
mkdir -p "$out"
results=$out/results.jsonl
log=$out/sweep.log
echo "scaling sweep: ranks [$ranks_list], modes [$modes], P in [$depths], $cbednet, launcher '$LAUNCHER' -> $out" | tee -a "$log"

# largest divisor of $1 that is <= $2 (at least 1)
divisor_at_most() {
  local n=$1 cap=$2 d
  ((cap >= 1)) || cap=1
  for ((d = cap; d >= 1; d--)); do
    if ((n % d == 0)); then echo "$d"; return; fi
  done
  echo 1
}

run_point() {  # run_point MODE N P D BATCH MICRO
  local mode=$1 n=$2 p=$3 d=$4 batch=$5 micro=$6
  local -a args=(bench --arch "${ARCH:-resnet50}" --size "${SIZE:-128}" --device "${DEVICE:-cpu}"
    --precision "${PRECISION:-fp32}" --batch "$batch" --steps "${STEPS:-3}" --warmup "${WARMUP:-1}")
  # A single rank needs no grid option: plain `cbednet bench` (works without the P x D scheduler).
  if ((n > 1 || p > 1)); then args+=(--grid "${p}x${d}"); fi
  if ((micro > 0)); then args+=(--micro-batch-size "$micro"); fi
  # shellcheck disable=SC2206
  args+=(${EXTRA:-})
  local -a launch
  if ((n == 1)) && [[ -z "${SLURM_JOB_ID:-}${LSB_JOBID:-}" ]]; then
    launch=()
  else
    # shellcheck disable=SC2206
    launch=(${LAUNCHER//\{n\}/$n} "$root/jobs/common/rank-env.sh")
  fi
  echo "== $mode N=$n grid ${p}x${d} batch $batch micro $micro: ${launch[*]} cbednet ${args[*]}" | tee -a "$log"
  local text rc=0
  text=$("${launch[@]}" "$cbednet" "${args[@]}" 2>>"$log") || rc=$?
  local line
  line=$(grep '^{' <<<"$text" | tail -n 1 || true)
  local head="{\"mode\": \"$mode\", \"ranks\": $n, \"P\": $p, \"D\": $d, "
  if ((rc == 0)) && [[ -n "$line" ]]; then
    echo "${head}\"status\": \"ok\", ${line#\{}" >>"$results"
    echo "   $(grep -o '"images_per_s": [0-9.e+-]*' <<<"$line")" | tee -a "$log"
  else
    echo "${head}\"status\": \"failed\", \"exit\": $rc, \"batch\": $batch, \"micro_batch\": $micro}" >>"$results"
    echo "   FAILED (exit $rc; see $log)" | tee -a "$log"
  fi
}

for mode in $modes; do
  for n in $ranks_list; do
    for p in $depths; do
      # Same grid rules as the job scripts; a rank count that is a partial node is treated as one node.
      nodes=$(((n + gpn - 1) / gpn))
      g=$((n < gpn ? n : gpn))
      ((nodes * g == n)) || continue
      grid=$(cbednet_grid "$nodes" "$g" "$p" 2>/dev/null) || continue
      read -r P D <<<"$grid"
      if [[ $mode == weak ]]; then batch=$((${BATCH_PER_RANK:-8} * n)); else batch=${BATCH:-16}; fi
      cbednet_check_batch "$batch" "$D" 2>/dev/null || { echo "skip $mode N=$n ${P}x${D}: batch $batch" | tee -a "$log"; continue; }
      micro=${MICRO:-0}
      if ((micro == 0 && P > 1)); then
        share=$((batch / D))
        micro=$(divisor_at_most "$share" $((share / (2 * P))))
      fi
      run_point "$mode" "$n" "$P" "$D" "$batch" "$micro"
    done
  done
done

"$python" "$root/scripts/plot_scaling.py" "$results" --csv "$out/scaling.csv" --png "$out/scaling.png" \
  --title "cbednet bench ${ARCH:-resnet50}@${SIZE:-128} ${DEVICE:-cpu} ${PRECISION:-fp32}" | tee -a "$log"
echo "scaling sweep: $results, $out/scaling.csv, $out/scaling.png"
