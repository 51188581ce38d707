#!/usr/bin/env bash
# jobs/common/grid.sh: the P x D grid for several node counts and node sizes, the errors for counts the grid
# cannot use, GPU binding per local rank, batch checks and the resume decision.
set -uo pipefail
root=$1
source "$root/jobs/common/grid.sh"
failures=0
expect() {  # expect NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1 -> $3"; else echo "FAIL $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
expect_error() {  # expect_error NAME PATTERN COMMAND...: non-zero exit, no stdout, stderr matching PATTERN
  local name=$1 pattern=$2
  shift 2
  local out err rc
  err=$({ out=$("$@"); } 2>&1) && rc=0 || rc=$?
  out=$("$@" 2>/dev/null) || true
  if ((rc != 0)) && [[ -z "$out" && "$err" == *"$pattern"* ]]; then
    echo "ok   $name -> error: $err"
  else
    echo "FAIL $name: rc $rc, stdout '$out', stderr '$err' (wanted an error with '$pattern')"
    failures=$((failures + 1))
  fi
}

# Slurm-like nodes with 4 GPUs, pure data parallelism and pipelines of 2 and 4.
expect "1 node x 4, P=1" "1 4" "$(cbednet_grid 1 4 1)"
expect "8 nodes x 4, P=1" "1 32" "$(cbednet_grid 8 4 1)"
expect "8 nodes x 4, P=2" "2 16" "$(cbednet_grid 8 4 2)"
expect "3 nodes x 4, P=4" "4 3" "$(cbednet_grid 3 4 4)"
expect "2 nodes x 4, P=8 (a pipeline spans 2 nodes)" "8 1" "$(cbednet_grid 2 4 8)"
expect "GPUS_PER_PIPELINE from the environment" "2 4" "$(GPUS_PER_PIPELINE=2 cbednet_grid 2 4)"
expect "default P=1" "1 8" "$(unset GPUS_PER_PIPELINE; cbednet_grid 2 4)"
# Summit-class nodes with 6 GPUs.
expect "Summit 1 node, P=3" "3 2" "$(cbednet_grid 1 6 3)"
expect "Summit 4 nodes, P=6" "6 4" "$(cbednet_grid 4 6 6)"
expect "Summit 1024 nodes, P=2" "2 3072" "$(cbednet_grid 1024 6 2)"
# Counts the grid cannot use.
expect_error "Summit P=4 (does not divide 6)" "does not divide the 6 GPUs" cbednet_grid 4 6 4
expect_error "1 node x 2, P=4 (too few GPUs)" "needs at least 4 GPUs" cbednet_grid 1 2 4
expect_error "3 nodes x 4, P=8 (12 ranks not a multiple of 8)" "cannot be split into pipelines of 8" cbednet_grid 3 4 8
expect_error "P=6 on 4-GPU nodes" "not a multiple of it" cbednet_grid 2 4 6
expect_error "zero nodes" "node count must be a positive integer" cbednet_grid 0 4 1
expect_error "bad P" "GPUS_PER_PIPELINE must be a positive integer" cbednet_grid 2 4 x

# Batch checks.
expect "batch 64 over D=4, micro 8" "0" "$(cbednet_check_batch 64 4 8; echo $?)"
expect_error "batch 60 over D=8" "not a multiple of the 8" cbednet_check_batch 60 8
expect_error "micro 5 of share 16" "does not divide a replica's share 16" cbednet_check_batch 64 4 5

# GPU binding: one GPU given by the launcher is kept; a whole node's list is indexed by the local rank.
expect "srun --gpus-per-task=1" "3" "$(cbednet_gpu_for_rank 5 4 3)"
expect "all 4 visible, local rank 2" "2" "$(cbednet_gpu_for_rank 2 4 0,1,2,3)"
expect "all 6 visible, local rank 7" "1" "$(cbednet_gpu_for_rank 7 6 0,1,2,3,4,5)"
expect "none visible, local rank 5 of 4" "1" "$(cbednet_gpu_for_rank 5 4 "")"
expect_error "bad local rank" "local rank must be" cbednet_gpu_for_rank x 4 ""
expect "SLURM_LOCALID first" "3" "$(SLURM_LOCALID=3 JSM_NAMESPACE_LOCAL_RANK=5 cbednet_local_rank)"
expect "jsrun local rank" "5" "$(unset SLURM_LOCALID; JSM_NAMESPACE_LOCAL_RANK=5 cbednet_local_rank)"
expect "Hydra (MPICH) local rank" "1" "$(unset SLURM_LOCALID JSM_NAMESPACE_LOCAL_RANK OMPI_COMM_WORLD_LOCAL_RANK; MPI_LOCALRANKID=1 cbednet_local_rank)"
expect "threads from Slurm" "7" "$(SLURM_CPUS_PER_TASK=7 cbednet_threads_per_rank)"

# The per-rank wrapper binds and sets OpenMP.
env_out=$(SLURM_LOCALID=1 CBEDNET_DEVICE=cuda GPUS_PER_NODE=4 CUDA_VISIBLE_DEVICES=0,1,2,3 SLURM_CPUS_PER_TASK=7 \
  OMP_NUM_THREADS= "$root/jobs/common/rank-env.sh" bash -c 'echo "$CUDA_VISIBLE_DEVICES $OMP_NUM_THREADS $OMP_WAIT_POLICY"')
expect "rank-env.sh binding" "1 7 passive" "$env_out"

# Resume: a run with a checkpoint resumes; a run without one is moved aside; no run starts afresh.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect "new run" "" "$(cbednet_resume_flag "$tmp/run")"
mkdir -p "$tmp/run/checkpoints" && touch "$tmp/run/config.ini"
expect "run without checkpoint" "" "$(cbednet_resume_flag "$tmp/run" 2>/dev/null)"
expect "moved aside" "yes" "$([[ -d "$tmp/run.incomplete.1" && ! -e "$tmp/run" ]] && echo yes || echo no)"
mkdir -p "$tmp/run/checkpoints" && touch "$tmp/run/config.ini" "$tmp/run/checkpoints/step-10.h5"
expect "run with checkpoint" "--resume" "$(cbednet_resume_flag "$tmp/run")"

echo "$failures failure(s)"
exit $((failures > 0))
