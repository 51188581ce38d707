#!/usr/bin/env bash
# Simulates the dataset the app tests share: 48 materials of 4 space groups, 32x32 pixels.
source "$(dirname "$0")/lib.sh"
rm -rf "$DATA"
"$CBEDNET" simulate --out "$DATA" --materials 48 --space-groups 2,14,62,225 --size 32 --seed 11 \
  --samples-per-material 4 > "$WORK/simulate.json"
for split in train dev test; do [[ -s "$DATA/$split/batch_${split}_0.h5" ]] || fail "no $split file"; done
echo "fixture: $(cat "$WORK/simulate.json")"
