# Preemption handling shared by the job scripts (source it after grid.sh).
#
# The batch system sends SIGUSR1 to the batch shell some minutes before the time limit (Slurm
# `--signal=B:USR1@300`, LSF `bsub -wa USR1 -wt 5`). The shell forwards it to the running step; `cbednet train`
# then writes a checkpoint and exits cleanly, and the job asks to be requeued: the next start resumes from that
# checkpoint (cbednet_resume_flag). Only a step that was signalled leads to a requeue, so a failing run does not
# loop.

CBEDNET_PREEMPTED=0
# `cbednet train` exits with this code after checkpointing on SIGTERM/SIGUSR1 (app/training_run.hpp): a step that
# was signalled directly (Slurm --signal=USR1@... without B:, or a SIGTERM before a kill) also leads to a requeue.
CBEDNET_EXIT_PREEMPTED=75
_cbednet_step_pid=

_cbednet_on_warning() {
  CBEDNET_PREEMPTED=1
  echo "cbednet job: time-limit warning (SIGUSR1) at $(date -Is); asking the step to checkpoint and stop" >&2
  if [[ -n "$_cbednet_step_pid" ]]; then
    # srun and jsrun forward SIGUSR1 to every task of the step.
    kill -USR1 "$_cbednet_step_pid" 2>/dev/null || true
  fi
}

# cbednet_run_step COMMAND...: run a launcher command (srun ..., jsrun ...) in the background so that the shell
# can take the warning signal while it runs; returns the step's exit status.
cbednet_run_step() {
  trap _cbednet_on_warning USR1
  "$@" &
  _cbednet_step_pid=$!
  local rc=0
  # `wait` returns early (status > 128) when a trapped signal arrives; wait again for the step's real status.
  while true; do
    wait "$_cbednet_step_pid" && rc=0 || rc=$?
    kill -0 "$_cbednet_step_pid" 2>/dev/null || break
  done
  _cbednet_step_pid=
  if ((rc == CBEDNET_EXIT_PREEMPTED)); then CBEDNET_PREEMPTED=1; fi
  return "$rc"
}

# cbednet_requeue_if_preempted REQUEUE_COMMAND...: after a signalled step, requeue the job (e.g.
# `scontrol requeue "$SLURM_JOB_ID"` or `brequeue "$LSB_JOBID"`) and exit 0 so the epilogue does not report a
# failure. Returns normally when no warning came.
cbednet_requeue_if_preempted() {
  ((CBEDNET_PREEMPTED)) || return 0
  # Under Slurm, let the signalled step finish tearing down first (at most a minute): a requeued job reuses its
  # job and step ids, and a step still cleaning up (its PMIx socket, for one) makes the restarted step fail.
  if [[ -n "${SLURM_JOB_ID:-}" ]] && command -v squeue > /dev/null; then
    for _ in $(seq 1 120); do
      squeue -h --steps -j "$SLURM_JOB_ID" -o %i 2>/dev/null | grep -qvE '\.(batch|extern)$' || break
      sleep 0.5
    done
  fi
  echo "cbednet job: requeueing ($*)" >&2
  "$@"
  exit 0
}
