#!/usr/bin/env bash
# Per-rank wrapper: srun/jsrun start `jobs/common/rank-env.sh cbednet ...` on every rank. It binds the rank to
# its GPU (CUDA_VISIBLE_DEVICES), sets one OpenMP team per rank sized to the rank's CPUs, then execs the command.
# GPUS_PER_NODE tells it how many GPUs a node has when the launcher exposes all of them to every rank.
set -euo pipefail
# shellcheck source=jobs/common/grid.sh
source "$(dirname "${BASH_SOURCE[0]}")/grid.sh"
if local_rank=$(cbednet_local_rank); then
  if [[ "${CBEDNET_DEVICE:-cpu}" == cuda ]]; then
    CUDA_VISIBLE_DEVICES=$(cbednet_gpu_for_rank "$local_rank" "${GPUS_PER_NODE:-1}")
    export CUDA_VISIBLE_DEVICES
  fi
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(cbednet_threads_per_rank)}
# Threads sleep when idle instead of spinning: ranks may share cores with MPI progress and with each other.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [[ "${CBEDNET_RANK_ENV_VERBOSE:-0}" == 1 ]]; then
  echo "rank-env: host $(hostname -s) local rank ${local_rank:-?} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}" \
    "OMP_NUM_THREADS=$OMP_NUM_THREADS" >&2
fi
exec "$@"
