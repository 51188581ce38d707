# Shared by the Slurm and LSF job scripts (source it; it defines functions only and changes no shell options).
#
# The training grid is P x D: P pipeline stages times D data-parallel replicas, one MPI rank per GPU, so
# P x D = nodes x GPUs per node. P comes from GPUS_PER_PIPELINE (default 1: pure data parallelism); D follows.
# Ranks are laid out stage-major inside a pipeline (a pipeline's stages are consecutive ranks), so with
# P <= GPUs per node and P dividing it, every pipeline stays inside one node and its point-to-point traffic
# uses NVLink while the data-parallel allreduce crosses nodes.

# cbednet_die MESSAGE...: print to stderr and return 1 (callers: `|| exit 1` in scripts, `|| return 1` in functions).
cbednet_die() {
  echo "cbednet job: error: $*" >&2
  return 1
}

_cbednet_is_positive_int() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

# cbednet_grid NODES GPUS_PER_NODE [GPUS_PER_PIPELINE]  -> prints "P D"
# Errors (return 1, message on stderr) when a count is not a positive integer, when the ranks cannot be split
# into pipelines of P stages, or when a pipeline would straddle nodes (P > G but not a multiple of G).
cbednet_grid() {
  local nodes=$1 gpn=$2 p=${3:-${GPUS_PER_PIPELINE:-1}}
  _cbednet_is_positive_int "$nodes" || { cbednet_die "node count must be a positive integer, got '$nodes'"; return 1; }
  _cbednet_is_positive_int "$gpn" || { cbednet_die "GPUs per node must be a positive integer, got '$gpn'"; return 1; }
  _cbednet_is_positive_int "$p" || { cbednet_die "GPUS_PER_PIPELINE must be a positive integer, got '$p'"; return 1; }
  local total=$((nodes * gpn))
  if ((p > total)); then
    cbednet_die "GPUS_PER_PIPELINE=$p needs at least $p GPUs, but $nodes node(s) x $gpn GPU(s) = $total"
    return 1
  fi
  if ((p <= gpn)); then
    if ((gpn % p != 0)); then
      cbednet_die "GPUS_PER_PIPELINE=$p does not divide the $gpn GPUs of a node: pipelines would straddle nodes" \
        "(use a divisor of $gpn, or a multiple of it)"
      return 1
    fi
  elif ((p % gpn != 0)); then
    cbednet_die "GPUS_PER_PIPELINE=$p is more than a node's $gpn GPUs but not a multiple of it"
    return 1
  fi
  if ((total % p != 0)); then
    cbednet_die "$nodes node(s) x $gpn GPU(s) = $total ranks cannot be split into pipelines of $p stages" \
      "(use a node count that makes $total a multiple of $p)"
    return 1
  fi
  echo "$p $((total / p))"
}

# cbednet_check_batch BATCH D [MICRO_BATCH]: the global batch must split evenly over the D replicas and the
# micro-batch (if given, > 0) must divide a replica's share. Prints nothing; returns 1 with a message otherwise.
cbednet_check_batch() {
  local batch=$1 d=$2 micro=${3:-0}
  _cbednet_is_positive_int "$batch" || { cbednet_die "batch must be a positive integer, got '$batch'"; return 1; }
  if ((batch % d != 0)); then
    cbednet_die "global batch $batch is not a multiple of the $d data-parallel replicas"
    return 1
  fi
  if ((micro > 0 && (batch / d) % micro != 0)); then
    cbednet_die "micro-batch $micro does not divide a replica's share $((batch / d)) of the batch $batch"
    return 1
  fi
}

# cbednet_local_rank: the rank's index on its node, from whichever launcher started it (Slurm srun, LSF jsrun,
# Open MPI mpirun, MPICH's Hydra mpiexec, MVAPICH, PMIx). Prints it; returns 1 when no launcher variable is set.
cbednet_local_rank() {
  local v
  for v in SLURM_LOCALID JSM_NAMESPACE_LOCAL_RANK OMPI_COMM_WORLD_LOCAL_RANK MPI_LOCALRANKID MV2_COMM_WORLD_LOCAL_RANK \
    PMIX_LOCAL_RANK; do
    if [[ -n "${!v:-}" ]]; then
      echo "${!v}"
      return 0
    fi
  done
  return 1
}

# cbednet_gpu_for_rank LOCAL_RANK GPUS_PER_NODE [VISIBLE]: the device a rank uses. When the launcher already
# gave the task exactly one GPU (srun --gpus-per-task=1, jsrun -g1) that one is kept; when several are visible
# (a whole node's CUDA_VISIBLE_DEVICES), the rank takes entry LOCAL_RANK mod count; with none, LOCAL_RANK mod G.
cbednet_gpu_for_rank() {
  local local_rank=$1 gpn=$2 visible=${3-${CUDA_VISIBLE_DEVICES:-}}
  [[ "$local_rank" =~ ^[0-9]+$ ]] || { cbednet_die "local rank must be a non-negative integer, got '$local_rank'"; return 1; }
  _cbednet_is_positive_int "$gpn" || { cbednet_die "GPUs per node must be a positive integer, got '$gpn'"; return 1; }
  if [[ -n "$visible" ]]; then
    local -a devs
    IFS=, read -r -a devs <<<"$visible"
    echo "${devs[$((local_rank % ${#devs[@]}))]}"
  else
    echo "$((local_rank % gpn))"
  fi
}

# cbednet_threads_per_rank: CPU threads for one rank: the CPUs the launcher gave the task (Slurm
# --cpus-per-task; otherwise the affinity mask, which jsrun -c sets), at least 1.
cbednet_threads_per_rank() {
  local n=${SLURM_CPUS_PER_TASK:-}
  [[ -n "$n" ]] || n=$(nproc 2>/dev/null || echo 1)
  ((n >= 1)) || n=1
  echo "$n"
}

# cbednet_require_batch_system NAME VAR: refuse to run outside the batch system (VAR = SLURM_JOB_ID or LSB_JOBID).
cbednet_require_batch_system() {
  local name=$1 var=$2
  if [[ -z "${!var:-}" ]]; then
    cbednet_die "this script is a $name job: submit it (see docs/operations.md); \$$var is not set"
    return 1
  fi
}

# cbednet_require_data PATH: the dataset must exist before any rank starts.
cbednet_require_data() {
  if [[ -z "$1" || ! -e "$1" ]]; then
    cbednet_die "dataset '${1:-}' does not exist (set DATA=... to an SMC-2019 directory or a packed file)"
    return 1
  fi
}

# cbednet_resume_flag RUN_DIR: "--resume" when RUN_DIR holds a run with a checkpoint; nothing for a new run.
# A run killed before its first checkpoint is moved aside (RUN_DIR.incomplete.N) so the job starts afresh.
cbednet_resume_flag() {
  local run=$1
  [[ -f "$run/config.ini" ]] || return 0
  if compgen -G "$run/checkpoints/*" >/dev/null; then
    echo "--resume"
    return 0
  fi
  local n=1
  while [[ -e "$run.incomplete.$n" ]]; do n=$((n + 1)); done
  mv "$run" "$run.incomplete.$n"
  echo "cbednet job: $run had no checkpoint; moved to $run.incomplete.$n and starting afresh" >&2
}
