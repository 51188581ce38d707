#!/usr/bin/env bash
# cbednet report: a tiny run and its evaluation -> one self-contained report.html (every image a base64 PNG that
# decodes, the expected sections); a directory without metrics -> a report with a note of what is missing; bad
# input -> one line naming the file, no traceback. inspect --preview -> a PNG of the expected size.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
mpirun2 "$CBEDNET" train --data "$DATA" "${TINY[@]}" --epochs 2 --batch 16 --lr 0.05 --log-every 2 --out run \
  > train.txt || { cat train.txt >&2; fail "train failed"; }
mpirun2 "$CBEDNET" evaluate --checkpoint run --data "$DATA" --split test --out eval.json > eval.txt
mpirun2 "$CBEDNET" predict --checkpoint run --input "$DATA" --split test --out pred.csv > pred.txt
"$CBEDNET" report run --eval eval.json --predictions pred.csv --gallery 5 > report.txt 2>&1 ||
  { cat report.txt >&2; fail "report failed"; }
[[ -s run/report/report.html ]] || fail "no run/report/report.html"

# Every <img> embeds a PNG that decodes; no external resource; the sections are there.
/usr/bin/python3 - run/report/report.html <<'PY' || fail "report.html check failed"
import base64, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
images = re.findall(r'<img [^>]*src="([^"]*)"', page)
assert len(images) >= 12, f"expected at least 7 figures and 5 gallery images, found {len(images)}"
for src in images:
    assert src.startswith("data:image/png;base64,"), f"image not embedded: {src[:60]}"
    png = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, "not a PNG"
assert not re.search(r'(src|href)="(https?:|//)', page), "external URL in the page"
for title in ("Training", "Evaluation", "Confusion of the 7 crystal systems", "Confusion of the 32 point groups",
              "Space-group confusion", "Per-class precision, recall and F1", "Gallery", "Configuration",
              "Versions"):
    assert f">{title}" in page, f"section '{title}' missing"
assert "Notes: what is missing" not in page, "a complete run should have no notes"
PY
# The gallery: 5 samples, the most confident mistakes first (checked against pred.csv), each image a file.
/usr/bin/python3 - run/report/report.html pred.csv <<'PY' || fail "gallery check failed"
import csv, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert all(r["file"].endswith(".h5") and r["group"].startswith("sample_") for r in rows), "no sample location"
confidence = lambda r: float(r["top5_probabilities"].split(";")[0])
mistakes = sorted((r for r in rows if r["true_space_group"] != r["predicted_space_group"]), key=confidence,
                  reverse=True)
correct = sorted((r for r in rows if r["true_space_group"] == r["predicted_space_group"]), key=confidence,
                 reverse=True)
expected = [f"sample {r['sample']}:" for r in (mistakes + correct)[:5]]
shown = re.findall(r'<tr class="(?:mistake|correct)"><td><figure><img alt="(sample \d+:)', page)
assert shown == expected, f"gallery order {shown}, expected {expected}"
assert page.count('class="mistake"') == min(5, len(mistakes)), "mistakes not marked"
PY
ls run/report/gallery_0{1..5}.png > /dev/null || fail "no gallery PNGs"
# From a packed file: the samples are rows of its images, shown as stored.
"$CBEDNET" convert --in "$DATA" --out packed.h5 --log-scale --quiet > convert.txt || fail "convert failed"
"$CBEDNET" predict --checkpoint run --input packed.h5 --split test --out packed.csv --quiet > /dev/null
"$CBEDNET" report run --predictions packed.csv --gallery 3 --out packed-report > packed.txt 2>&1 ||
  { cat packed.txt >&2; fail "report of packed predictions failed"; }
[[ $(grep -o 'class="mistake"\|class="correct"' packed-report/report.html | wc -l) -eq 3 ]] ||
  fail "the packed gallery does not show 3 samples"
grep -q "packed.h5 \[" packed-report/report.html || fail "the packed gallery does not name rows"
ls run/report/*.png > /dev/null || fail "no PNGs beside report.html"

# A directory without metrics: a report of what exists, with a note; exit 0.
mkdir empty-run
"$CBEDNET" report empty-run --out empty-report > empty.txt 2>&1 || { cat empty.txt >&2; fail "report of an empty run failed"; }
grep -q "metrics.jsonl not found" empty-report/report.html || fail "no note about the missing metrics"

# Bad input: one line naming the file, non-zero exit, never a traceback.
check_error() {  # expected text, then the command
  local expected=$1 rc=0
  shift
  "$@" > bad.txt 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "$* should fail"
  grep -q "$expected" bad.txt || { cat bad.txt >&2; fail "$* does not say '$expected'"; }
  if grep -q "Traceback" bad.txt; then cat bad.txt >&2; fail "$* printed a Python traceback"; fi
}
check_error "no-such-run" "$CBEDNET" report no-such-run
check_error "missing.json" "$CBEDNET" report run --eval missing.json
check_error "missing.csv" "$CBEDNET" report run --predictions missing.csv
check_error "eval.json: not a predictions CSV" "$CBEDNET" report run --predictions eval.json --out bad-report
check_error "gallery" "$CBEDNET" report run --predictions pred.csv --gallery 0
# The data moved since predict: the report still comes, with a note naming the file.
sed 's|,[^,]*batch_test_0.h5,|,/moved/batch_test_0.h5,|' pred.csv > moved.csv
"$CBEDNET" report run --predictions moved.csv --out moved-report > moved.txt 2>&1 || { cat moved.txt >&2; fail "moved"; }
grep -q "/moved/batch_test_0.h5 not found" moved-report/report.html || fail "no note on the moved data"
echo '{"metrics": ' > torn.json
check_error "torn.json" "$CBEDNET" report run --eval torn.json --out torn-report
# An evaluation of another class set (10 classes, the run has 230): a report with a note saying so.
{ echo "true\\predicted,$(seq -s, 1 10)"; for t in $(seq 1 10); do echo "$t,$(seq -s, 1 10 | sed 's/[0-9]*/1/g')"; done; } \
  > other.confusion.csv
cp eval.json other.json
"$CBEDNET" report run --eval other.json --out other-report > other.txt 2>&1 || { cat other.txt >&2; fail "other class set"; }
grep -q "10 classes but the run was trained with 230" other-report/report.html || fail "no note on the class set"
head -3 eval.confusion.csv > short.confusion.csv   # a torn confusion matrix: an error naming it
cp eval.json short.json
check_error "short.confusion.csv" "$CBEDNET" report run --eval short.json --out short-report
CBEDNET_PYTHON=/nonexistent/python3 check_error "/nonexistent/python3" "$CBEDNET" report run

# inspect --preview: K samples, 3 projections raw and log-scaled.
"$CBEDNET" inspect "$DATA" --preview preview.png --samples 3 > preview.txt 2>&1 || { cat preview.txt >&2; fail "preview failed"; }
/usr/bin/python3 - preview.png <<'PY' || fail "preview.png is not the expected PNG"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
# 6 panels of 2.2 in x 3 samples of 2.5 in at 100 dpi (tight layout keeps the canvas size).
assert (width, height) == (1320, 750), f"unexpected size {width}x{height}"
PY
check_error "no-such-data" "$CBEDNET" inspect no-such-data --preview p.png
echo "report: ok"
