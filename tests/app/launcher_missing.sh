#!/usr/bin/env bash
# Bad input: an MPI launcher that cannot be found gives one clear message and a non-zero exit before any rank
# starts — in the shell helpers (mpi-launcher.sh, as the tests, the demo and the soak use them), in the demo, in
# the scaling sweep, and at configure time (MPIEXEC_EXECUTABLE, and a launcher of another MPI than the library's).
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$CBEDNET_MPI_LAUNCHER")" && pwd)
cd "$SCRATCH"
missing=$SCRATCH/no-such-dir/mpiexec

# expect_refusal WHAT PATTERN COMMAND...: fails with a message matching PATTERN (grep -E) and starts nothing.
expect_refusal() {
  local what=$1 pattern=$2 rc=0
  shift 2
  rm -f started
  "$@" > out.txt 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || { cat out.txt >&2; fail "$what: exit 0 with a missing launcher"; }
  grep -qE -- "$pattern" out.txt || { cat out.txt >&2; fail "$what: the message does not say '$pattern'"; }
  [[ ! -e started ]] || fail "$what: a rank started"
  echo "$what: exit $rc: $(grep -E -- "$pattern" out.txt | head -1)"
}

# The helpers the tests and scripts start ranks with.
expect_refusal "cbednet_mpiexec" "MPI launcher '$missing' not found.*no rank was started" \
  env CBEDNET_MPIEXEC="$missing" bash -c 'source "$1"; cbednet_mpiexec 2 touch started' _ "$CBEDNET_MPI_LAUNCHER"
# The demo stops before it simulates anything (and before it clears its output directory).
mkdir demo-out && touch demo-out/keep
expect_refusal "scripts/demo.sh" "MPI launcher '$missing' not found" \
  env CBEDNET_MPIEXEC="$missing" BUILD_DIR="$build" DEMO_DIR="$SCRATCH/demo-out" bash "$root/scripts/demo.sh"
[[ -e demo-out/keep ]] || fail "scripts/demo.sh cleared its output directory before refusing"
# The scaling sweep, with an explicit launcher.
expect_refusal "jobs/scaling/sweep.sh" "MPI launcher '$missing' not found" \
  env -u SLURM_JOB_ID -u LSB_JOBID LAUNCHER="$missing -n {n}" CBEDNET="$CBEDNET" OUT="$SCRATCH/sweep" \
  bash "$root/jobs/scaling/sweep.sh"
[[ ! -e sweep/results.jsonl ]] || fail "jobs/scaling/sweep.sh ran a point"

# Configure time: refused with the option's name (a configure only, nothing is built).
configure() { cmake -S "$root" -B "$SCRATCH/cfg" -DCBEDNET_CUDA=OFF -DCMAKE_BUILD_TYPE=Release "$@"; }
expect_refusal "cmake -DMPIEXEC_EXECUTABLE=<missing>" "No MPI launcher found" \
  configure -DMPIEXEC_EXECUTABLE="$missing" -DMPI_C_COMPILER="$(sed -n 's/^MPI_C_COMPILER:FILEPATH=//p' "$build/CMakeCache.txt")"
# A launcher of the other MPI (when both Open MPI and MPICH are installed, as in CI).
library=$(sed -n 's/^MPI_C_COMPILER:FILEPATH=//p' "$build/CMakeCache.txt")
other=""
case "$CBEDNET_MPI_LAUNCHER_FLAVOUR" in
  openmpi) other=$(command -v mpiexec.mpich || true) ;;
  mpich) other=$(command -v mpiexec.openmpi || true) ;;
esac
if [[ -n "$other" ]]; then
  rm -rf "$SCRATCH/cfg"
  expect_refusal "cmake with $other for $library" "MPI launcher and library disagree" \
    configure -DMPIEXEC_EXECUTABLE="$other" -DMPI_C_COMPILER="$library"
else
  echo "only one MPI installed: the launcher/library mismatch check is not exercised"
fi
