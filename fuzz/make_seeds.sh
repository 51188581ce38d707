#!/usr/bin/env bash
# Seed corpora for the fuzz targets: small valid files written by cbednet itself (a few KB to ~30 KB each), so
# they are generated, not committed. Usage: fuzz/make_seeds.sh CBEDNET OUTDIR
set -euo pipefail
cbednet=$1 out=$2
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$out" && mkdir -p "$out"/{smc_file,source,checkpoint,options,npy,tiff}
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
"$cbednet" simulate --out "$tmp/d" --materials 10 --space-groups 225,2 --size 16 --samples-per-material 1 \
  --seed 3 --split-fractions 0.6,0.2,0.2 > /dev/null
cp "$tmp/d/test/batch_test_0.h5" "$out/smc_file/smc-test.h5"
cp "$tmp/d/dev/batch_dev_0.h5" "$out/smc_file/smc-dev.h5"
"$cbednet" convert --in "$tmp/d" --out "$tmp/packed.h5" --size 4 --log-scale > /dev/null
"$cbednet" convert --in "$tmp/d" --split test --out "$tmp/packed16.h5" --dtype float16 > /dev/null
cp "$tmp/packed.h5" "$out/source/packed-f32.h5"
cp "$tmp/packed16.h5" "$out/source/packed-f16.h5"
cp "$out/smc_file/smc-test.h5" "$out/source/"
"$cbednet" train --data "$tmp/packed.h5" --arch basic:1 --width 2 --stem small --out "$tmp/run" --max-steps 1 \
  --batch 2 --val-split none > /dev/null
cp "$tmp"/run/checkpoints/ckpt-*.h5 "$out/checkpoint/"
cp "$tmp/run/config.ini" "$out/options/run-config.ini"
# Array inputs of predict (io/arrays/): a float32 and a float64 .npy, a 3-page float32 TIFF and a 16-bit one.
/usr/bin/python3 - "$out" <<'PY'
import sys
import numpy as np, tifffile
out = sys.argv[1]
stack = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
np.save(f"{out}/npy/one.npy", stack)
np.save(f"{out}/npy/two-f64.npy", np.stack([stack, stack]).astype(np.float64))
tifffile.imwrite(f"{out}/tiff/f32.tif", stack, photometric="minisblack")
tifffile.imwrite(f"{out}/tiff/u16.tif", stack.astype(np.uint16), photometric="minisblack")
PY
ls -l "$out"/*/ | awk 'NF>5{n++; s+=$5} END{print "seeds: " n " files, " s " bytes"}'
