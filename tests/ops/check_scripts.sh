#!/usr/bin/env bash
# Every job and operations script parses (bash -n), batch scripts carry the requeue/warning directives, and the
# plotting script compiles.
set -euo pipefail
root=$1
fail=0
scripts=("$root"/jobs/common/*.sh "$root"/jobs/slurm/* "$root"/jobs/lsf/* "$root"/jobs/scaling/*.sh "$root"/scripts/ci-slurm.sh)
for f in "${scripts[@]}"; do
  [[ -f "$f" ]] || continue
  if ! bash -n "$f"; then echo "syntax error: $f"; fail=1; fi
done
echo "checked ${#scripts[@]} scripts with bash -n"
for f in "$root"/jobs/slurm/*.sbatch "$root"/jobs/scaling/*.sbatch; do
  grep -q -- '^#SBATCH --signal=B:USR1@' "$f" || { echo "$f: no '#SBATCH --signal=B:USR1@...'"; fail=1; }
  grep -q -- '^#SBATCH --requeue' "$f" || { echo "$f: no '#SBATCH --requeue'"; fail=1; }
  grep -q 'SLURM_JOB_ID' "$f" || { echo "$f: does not check SLURM_JOB_ID"; fail=1; }
done
for f in "$root"/jobs/lsf/*.lsf; do
  grep -q -- '^#BSUB -wa USR1' "$f" || { echo "$f: no '#BSUB -wa USR1'"; fail=1; }
  grep -q 'LSB_JOBID' "$f" || { echo "$f: does not check LSB_JOBID"; fail=1; }
done
if [[ -f "$root/scripts/plot_scaling.py" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -c "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)" \
    "$root/scripts/plot_scaling.py" "$tmp/plot.pyc" || fail=1
fi
exit "$fail"
