# Shared by the app tests: strict mode, a scratch directory, and checks.
set -euo pipefail
: "${CBEDNET:?path of the cbednet binary}" "${WORK:?shared work directory}"
# The launcher and its options, as configured (cmake/CBEDNetMpiLauncher.cmake): cbednet_mpiexec N COMMAND...
: "${CBEDNET_MPI_LAUNCHER:=$(dirname "$CBEDNET")/../mpi-launcher.sh}"
# shellcheck source=/dev/null
source "$CBEDNET_MPI_LAUNCHER"
DATA="$WORK/data"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$WORK"
SCRATCH=$(mktemp -d "${WORK}/scratch.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
mpirun2() { cbednet_mpiexec 2 "$@"; }
# launcher_reported_signal FILE RANK SIGNAL [PID]: the launcher's output in FILE says that rank RANK (a number or a
# grep -E pattern; or the process PID) died of SIGNAL. Open MPI: "process rank R with PID P ... exited on signal S";
# Slurm: "task R: ... signal S"; Hydra (MPICH 4.0) names the process, not the rank: "PID P RUNNING AT host" then
# "EXIT CODE: S" (or "KILLED BY SIGNAL: S"); newer Hydra prints "RANK R PID P RUNNING AT host".
launcher_reported_signal() {
  local file=$1 rank=$2 sig=$3 pid=${4:-[0-9]+}
  grep -qE "rank $rank .*(exited on signal $sig\b|signal $sig \()|task $rank: .*signal $sig\b" "$file" && return 0
  local hydra="^=+ +(RANK $rank PID [0-9]+|PID $pid) RUNNING AT "
  [[ $# -lt 4 ]] || hydra="^=+ +(RANK $rank PID [0-9]+|(RANK [0-9]+ )?PID $pid) RUNNING AT "
  grep -A1 -E "$hydra" "$file" | grep -qE "(EXIT CODE|KILLED BY SIGNAL): $sig\b"
}
# A small model that trains in seconds on 32x32 data.
TINY=(--arch basic:1,1 --width 8 --stem small --log-scale)
