#!/usr/bin/env bash
# Every batch script refuses to run outside its batch system, with a message naming how to submit it.
set -uo pipefail
root=$1
failures=0
check() {  # check SCRIPT VAR_NAME
  local out rc
  out=$(env -u SLURM_JOB_ID -u LSB_JOBID bash "$1" 2>&1) && rc=0 || rc=$?
  if ((rc != 0)) && [[ "$out" == *"$2"* ]]; then
    echo "ok   $(basename "$1"): $out"
  else
    echo "FAIL $1: rc $rc, output '$out'"
    failures=$((failures + 1))
  fi
}
for f in "$root"/jobs/slurm/*.sbatch "$root"/jobs/scaling/*.sbatch; do check "$f" SLURM_JOB_ID; done
for f in "$root"/jobs/lsf/*.lsf; do check "$f" LSB_JOBID; done
# Inside a (pretend) job, a missing dataset is refused before any launcher runs.
out=$(SLURM_JOB_ID=1 SLURM_SUBMIT_DIR="$root" SLURM_JOB_NUM_NODES=1 DATA=/nonexistent/cbed CBEDNET=/bin/true \
  bash "$root/jobs/slurm/train-gpu.sbatch" 2>&1) && rc=0 || rc=$?
if ((rc != 0)) && [[ "$out" == *"/nonexistent/cbed"*"does not exist"* ]]; then
  echo "ok   train-gpu.sbatch without data: $out"
else
  echo "FAIL train-gpu.sbatch without data: rc $rc, '$out'"
  failures=$((failures + 1))
fi
echo "$failures failure(s)"
exit $((failures > 0))
