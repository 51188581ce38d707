#!/usr/bin/env bash
# Options come from an INI file; command-line flags win; the run directory records the resolved configuration.
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH"
cat > train.ini <<INI
data = $DATA
arch = basic:1,1
width = 8
stem = small
epochs = 1
batch = 8
lr = 0.02
max-steps = 2
INI
"$CBEDNET" train --config train.ini --batch 16 --out run > /dev/null
grep -q "^batch = 16$" run/config.ini || fail "command-line --batch did not win"
grep -q "^lr = 0.02" run/config.ini || fail "--lr from the file was not used"
grep -q "^arch = basic:1,1$" run/config.ini || fail "arch from the file was not used"
echo "config precedence: ok"
