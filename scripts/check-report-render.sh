#!/usr/bin/env bash
# CI: renders a cbednet report in headless Chromium and checks the screenshot is not blank, i.e. the page and its
# embedded (base64) figures display in a real browser from a file, with no server and no network.
#   scripts/check-report-render.sh [BUILD_DIR]      (default build; uses its cbednet and the app tests' data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "${1:-$root/build}" && pwd)
cbednet="$build_dir/bin/cbednet"
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "check-report-render: chromium not found (Debian package chromium)" >&2; exit 1; }
[[ -x "$cbednet" ]] || { echo "check-report-render: no $cbednet (build first)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

"$cbednet" simulate --out data --materials 24 --space-groups 2,225 --size 32 --seed 5 --samples-per-material 2 \
  > /dev/null
"$cbednet" train --data data --arch basic:1,1 --width 8 --stem small --log-scale --epochs 2 --batch 16 \
  --log-every 1 --out run > /dev/null
"$cbednet" evaluate --checkpoint run --data data --split test --out eval.json > /dev/null
"$cbednet" predict --checkpoint run --input data --split test --out predictions.csv --quiet > /dev/null
"$cbednet" report run --eval eval.json --predictions predictions.csv > /dev/null

# --no-sandbox: CI runs as root; a fresh profile so nothing from the machine's user leaks in.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1200,2400 --screenshot="$work/shot.png" "file://$work/run/report/report.html" > browser.log 2>&1 ||
  { cat browser.log >&2; echo "check-report-render: chromium failed" >&2; exit 1; }
[[ -s shot.png ]] || { cat browser.log >&2; echo "check-report-render: no screenshot" >&2; exit 1; }

# Non-blank: many distinct colours, and a good share of the pixels not white (the figures are drawn).
/usr/bin/python3 - shot.png <<'PY'
import sys
import matplotlib.image as mpimg
import numpy as np
shot = mpimg.imread(sys.argv[1])[..., :3]
colours = len(np.unique((shot.reshape(-1, 3) * 255).astype(np.uint8), axis=0))
drawn = float((shot.min(axis=2) < 0.95).mean())
print(f"check-report-render: screenshot {shot.shape[1]}x{shot.shape[0]}, {colours} colours, {drawn:.1%} non-white")
if colours < 50 or drawn < 0.02:  # a blank page: a handful of colours, ~0% drawn
    sys.exit("check-report-render: the rendered report looks blank")
PY
echo "check-report-render: ok"
