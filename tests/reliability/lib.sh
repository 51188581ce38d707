# Shared by the reliability tests: the app tests' helpers (strict mode, $SCRATCH, fail, TINY, mpirun2) plus
# checks for clean failures and helpers that damage files.
# shellcheck source=../app/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../app/lib.sh"
PY=/usr/bin/python3   # Debian's python3 with h5py (scripts/install-deps.sh)

# expect_clean_failure CULPRIT TIMEOUT -- COMMAND...: a non-zero exit below 124 (no crash signal, no timeout) with a
# message matching CULPRIT (grep -E, case-insensitive). The output is left in $SCRATCH/out.txt.
expect_clean_failure() {
  local culprit=$1 limit=$2; shift 3
  local rc=0
  timeout -k 5 "$limit" "$@" > "$SCRATCH/out.txt" 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || { cat "$SCRATCH/out.txt" >&2; fail "succeeded: $*"; }
  [[ $rc -ne 124 && $rc -ne 137 ]] || fail "hung (timeout ${limit} s): $*"
  [[ $rc -lt 124 ]] || { cat "$SCRATCH/out.txt" >&2; fail "crashed (exit $rc, signal $((rc - 128))): $*"; }
  grep -qiE -- "$culprit" "$SCRATCH/out.txt" || { cat "$SCRATCH/out.txt" >&2; fail "message does not name '$culprit': $*"; }
}

# flip_byte FILE DATASET: inverts one byte in the middle of a contiguous dataset's data (not its metadata).
flip_byte() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, h5py
path, name = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    d = f[name]
    offset, size = d.id.get_offset(), d.id.get_storage_size()
assert offset is not None and size > 0, (path, name)
with open(path, "r+b") as f:
    f.seek(offset + size // 2)
    b = f.read(1)
    f.seek(offset + size // 2)
    f.write(bytes([b[0] ^ 0xFF]))
PYEOF
}

# A file's name is in the output, whatever path form the message used.
names_file() { grep -qF -- "$(basename "$1")" "$SCRATCH/out.txt"; }
