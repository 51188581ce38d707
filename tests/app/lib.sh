# Shared by the app tests: strict mode, a scratch directory, and checks.
set -euo pipefail
: "${CBEDNET:?path of the cbednet binary}" "${WORK:?shared work directory}" "${MPIEXEC:=mpiexec}"
DATA="$WORK/data"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$WORK"
SCRATCH=$(mktemp -d "${WORK}/scratch.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
mpirun2() { "$MPIEXEC" --oversubscribe -n 2 "$@"; }
# A small model that trains in seconds on 32x32 data.
TINY=(--arch basic:1,1 --width 8 --stem small --log-scale)
