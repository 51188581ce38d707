#!/usr/bin/env bash
# convert under mpiexec: 2 and 4 ranks share the source files and write the same bytes as 1 rank (float32 and
# float16, downsampled, --skip-bad); a conversion killed mid-way leaves its partial files and no output, and the
# same command resumes without rewriting the finished files, ending with the bytes of an uninterrupted run;
# changed options start over.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
mpirun_n() { cbednet_mpiexec "$@"; }

for options in "--log-scale" "--size 16 --dtype float16 --skip-bad"; do
  # shellcheck disable=SC2086
  "$CBEDNET" convert --in "$DATA" --out one.h5 $options --quiet > one.txt || fail "1-rank convert ($options)"
  for ranks in 2 4; do
    # shellcheck disable=SC2086
    mpirun_n "$ranks" "$CBEDNET" convert --in "$DATA" --out "r$ranks.h5" $options --quiet > "r$ranks.txt" ||
      fail "$ranks-rank convert ($options)"
    grep -q "($ranks ranks)" "r$ranks.txt" || fail "the $ranks-rank conversion did not run on $ranks ranks"
    cmp one.h5 "r$ranks.h5" || fail "$ranks ranks wrote other bytes than 1 rank ($options)"
  done
  rm -f one.h5 r2.h5 r4.h5
done

# Interrupted: each rank kills itself after its first source file (a test hook).
"$CBEDNET" convert --in "$DATA" --out one.h5 --log-scale --quiet > /dev/null
rc=0
CBEDNET_TEST_CONVERT_KILL_AFTER_FILES=1 mpirun_n 2 "$CBEDNET" convert --in "$DATA" --out resumed.h5 --log-scale \
  --quiet > killed.txt 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "the killed conversion exited 0"
[[ ! -e resumed.h5 ]] || fail "a killed conversion left its output file"
[[ -e resumed.h5.partial && -e resumed.h5.partial.state ]] || fail "a killed conversion left no partial files"
finished=$(cat resumed.h5.partial.done-* | wc -l)
[[ $finished -ge 1 ]] || fail "no finished file journalled"
mpirun_n 2 "$CBEDNET" convert --in "$DATA" --out resumed.h5 --log-scale --quiet > resume.txt ||
  { cat resume.txt >&2; fail "resume failed"; }
grep -q "resumed an interrupted conversion: [1-9][0-9]* of 192 samples were already written" resume.txt ||
  { cat resume.txt >&2; fail "the rerun did not resume"; }
cmp one.h5 resumed.h5 || fail "the resumed conversion differs from an uninterrupted one"
! compgen -G "resumed.h5.partial*" > /dev/null || fail "partial files left after success"

# Killed again, then rerun with other options: the partial files do not match and the conversion starts over.
CBEDNET_TEST_CONVERT_KILL_AFTER_FILES=1 mpirun_n 2 "$CBEDNET" convert --in "$DATA" --out other.h5 --log-scale \
  --quiet > /dev/null 2>&1 || true
"$CBEDNET" convert --in "$DATA" --out other.h5 --quiet > other.txt || fail "convert with other options"
! grep -q "resumed" other.txt || fail "resumed a conversion with other options"
"$CBEDNET" convert --in "$DATA" --out plain.h5 --quiet > /dev/null
cmp plain.h5 other.h5 || fail "a fresh start after a mismatched partial file differs"
echo "convert_parallel: ok"
