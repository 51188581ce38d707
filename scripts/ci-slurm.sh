#!/usr/bin/env bash
# CI check of the Slurm job scripts on a real Slurm: a single-node cluster on this machine (no munge: auth/none),
# which runs jobs/slurm/demo.sbatch (simulate -> train on 2 ranks through srun --mpi=pmix -> evaluate) with
# `sbatch --wait` and checks that it succeeded and printed its metrics. Daemons are stopped on exit.
#   bash scripts/ci-slurm.sh [path/to/cbednet]     (default: build/bin/cbednet)
# Installs slurm-wlm with apt-get when it is missing (idempotent; removes nothing). Needs root (slurmd runs jobs
# as the submitting user, and SlurmUser=root here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cbednet=$(realpath "${1:-$root/build/bin/cbednet}")
[[ -x "$cbednet" ]] || { echo "ci-slurm: no cbednet binary at $cbednet (build first)" >&2; exit 1; }
start=$(date +%s)

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
  echo "ci-slurm: installing slurm-wlm"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends slurm-wlm >/dev/null
fi
[[ $(id -u) -eq 0 ]] || { echo "ci-slurm: must run as root (SlurmUser=root, slurmd)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cbednet-ci-slurm.XXXXXX)
host=$(hostname -s)
cpus=$(nproc)
((cpus >= 2)) || cpus=2   # the demo has 2 ranks; with one core they share it (sbatch --overcommit below)
ctld_port=${CI_SLURMCTLD_PORT:-6817}
slurmd_port=${CI_SLURMD_PORT:-6818}
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/work" "$tmp/tmpfs" "$tmp/pmix"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=cbednet-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobRequeue=1
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
Epilog=$tmp/epilog.sh
TmpFS=$tmp/tmpfs
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# The node epilog a site runs: Slurm 22.05's PMIx plugin leaves a signalled step's server and client directories
# behind, and a requeued job reuses its job and step ids, so its first step would collide with them.
cat >"$tmp/epilog.sh" <<EPILOG
#!/bin/sh
rm -rf "$tmp/spool/pmix.\$SLURM_JOB_ID."* "$tmp/spool/stepd.slurm.pmix.\$SLURM_JOB_ID."* "$tmp/pmix/spmix_appdir_"*"_\$SLURM_JOB_ID."*
exit 0
EPILOG
chmod +x "$tmp/epilog.sh"
# PMIx client directories under $tmp: job ids restart at 1 with every run, and a leftover /tmp/spmix_appdir_0_<id>
# of an earlier run would make the step fail.
echo "PMIxCliTmpDirBase=$tmp/pmix" >"$tmp/mpi.conf"
export SLURM_CONF=$tmp/slurm.conf

pids=()
cleanup() {
  local rc=$?
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((rc != 0)); then
    echo "ci-slurm: FAILED; daemon logs:" >&2
    tail -n 30 "$tmp/slurmctld.log" "$tmp/slurmd.log" >&2 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

# Foreground daemons (-D) started in the background: their process ids are ours to stop.
slurmctld -D -i -f "$SLURM_CONF" >>"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$tmp/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
  sleep 0.2
done
sinfo -N -o '%N %T %c' || true
sinfo -h -N -o '%T' | grep -qE '^idle' || { echo "ci-slurm: the node did not come up" >&2; exit 1; }

echo "ci-slurm: submitting jobs/slurm/demo.sbatch"
cd "$tmp/work"
set +e
CBEDNET="$cbednet" CBEDNET_ROOT="$root" sbatch --wait --overcommit --time=10 -o "$tmp/work/demo-%j.out" \
  "$root/jobs/slurm/demo.sbatch"
rc=$?
set -e
out=$(ls "$tmp"/work/demo-*.out 2>/dev/null | head -n 1)
[[ -n "$out" ]] && cat "$out"
((rc == 0)) || { echo "ci-slurm: the demo job failed (sbatch --wait exit $rc)" >&2; exit 1; }
grep -q "cbednet demo: finished" "$out" || { echo "ci-slurm: the demo did not finish" >&2; exit 1; }
grep -qi "top-1" "$out" || { echo "ci-slurm: no metrics in the job output" >&2; exit 1; }
metrics=$(ls "$tmp"/work/cbednet-demo-*/metrics.json)
[[ -s "$metrics" ]] || { echo "ci-slurm: no metrics.json" >&2; exit 1; }
echo "ci-slurm: demo job passed in $(( $(date +%s) - start )) s"

# Preemption: a longer training on the demo's data gets the time-limit warning (SIGUSR1 to the batch shell, as
# `--signal=B:USR1@...` sends it); the job must checkpoint, requeue itself and finish from the checkpoint.
if [[ "${CI_SLURM_PREEMPT:-1}" == 1 ]]; then
  data=$(dirname "$metrics")/data
  id=$(CBEDNET="$cbednet" CBEDNET_ROOT="$root" DATA="$data" EPOCHS=6 WORK="$tmp/work/preempt" \
    sbatch --parsable --overcommit --time=10 -o "$tmp/work/preempt-%j.out" "$root/jobs/slurm/demo.sbatch")
  pout="$tmp/work/preempt-$id.out"
  for _ in $(seq 1 300); do
    grep -q "checkpoint .*(periodic)" "$pout" 2>/dev/null && break
    [[ -n $(squeue -h -j "$id" -o %T 2>/dev/null) ]] || { cat "$pout"; echo "ci-slurm: job $id ended early" >&2; exit 1; }
    sleep 0.2
  done
  scancel --batch --signal=USR1 "$id"
  echo "ci-slurm: sent SIGUSR1 to job $id's batch shell"
  for _ in $(seq 1 120); do
    # Slurm gives a requeued job a begin time 2 minutes ahead; let it start now.
    if [[ $(squeue -h -j "$id" -o %T 2>/dev/null) == PENDING ]]; then
      # Slurm 22.05's PMIx plugin leaves the client directory of a step that exited non-zero; the requeued job
      # reuses the job id and step numbers, so its first step would collide with it.
      rm -rf "$tmp/pmix/spmix_appdir_0_$id".* "$tmp/spool/stepd.slurm.pmix.$id".*
      scontrol update JobId="$id" StartTime=now >/dev/null 2>&1 || true
    fi
    grep -q "cbednet demo: finished" "$pout" 2>/dev/null && break
    sleep 1
  done
  cat "$pout"
  grep -q "requeueing" "$pout" || { echo "ci-slurm: the warned job did not requeue itself" >&2; exit 1; }
  grep -q "resumed from" "$pout" || { echo "ci-slurm: the requeued job did not resume" >&2; exit 1; }
  grep -q "cbednet demo: finished" "$pout" || { echo "ci-slurm: the requeued job did not finish" >&2; exit 1; }
  echo "ci-slurm: preemption (warning -> checkpoint -> requeue -> resume) passed"
fi
echo "ci-slurm: passed in $(( $(date +%s) - start )) s"
