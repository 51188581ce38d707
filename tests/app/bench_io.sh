#!/usr/bin/env bash
# cbednet_bench_io (bench/io): the reader benchmark runs on 2 ranks over a file it writes and removes, prints one
# io_reader JSON line whose counts add up, and refuses a bad number naming the option (exit 1, no file left).
source "$(dirname "$0")/lib.sh"
: "${BENCH_IO:?path of the cbednet_bench_io binary}"
cd "$SCRATCH"
export TMPDIR=$SCRATCH

mpirun2 "$BENCH_IO" --samples 24 --size 32 --batch 8 --epochs 2 > io.json 2> io.err || { cat io.err >&2; fail "bench_io failed"; }
/usr/bin/python3 - io.json <<'PY' || fail "io_reader: wrong line (see above)"
import json, sys
d = json.loads(open(sys.argv[1]).read())
print(d)
assert d["benchmark"] == "io_reader" and d["ranks"] == 2 and d["epochs"] == 2
assert d["images"] == 2 * 24, "every sample read once per epoch"
assert d["steps_per_rank"] == 2 * 24 // 8, "one step per global batch"
assert d["sample_floats"] == 3 * 32 * 32
assert d["collective"] and d["images_per_s"] > 0 and d["raw_gb_per_s"] > 0
PY
[[ -z $(ls cbednet-bench-io-* 2> /dev/null) ]] || fail "the generated file was left behind"

for bad in "--samples abc" "--samples -3" "--batch 0" "--epochs 1.5" "--io-threads -2" "--depth"; do
  set +e
  # shellcheck disable=SC2086
  "$BENCH_IO" $bad > bad.out 2> bad.err
  rc=$?
  set -e
  option=${bad%% *}
  [[ $rc -ne 0 ]] || fail "bench_io $bad: exit code 0"
  grep -q -- "$option" bad.err || { cat bad.err >&2; fail "bench_io $bad: the error does not name $option"; }
  [[ -z $(ls cbednet-bench-io-* 2> /dev/null) ]] || fail "bench_io $bad: left a file"
done
echo "bench_io: 2 ranks, counts and bad numbers ok"
