#!/usr/bin/env bash
# The bad-input table beyond tests/app/bad_input.sh: one case per kind of bad input, across every subcommand
# (simulate, convert, inspect, train, evaluate, predict, model, bench, plan), damaged data files (written by
# make_bad_files.py from valid ones), options, INI files and checkpoints. Each case must give a non-zero exit
# below 124 (no crash signal), within its time limit (no hang), a message matching the culprit, and no output
# (neither the output path nor a temporary file next to it).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
cd "$SCRATCH"
n=0
# bad CULPRIT OUTPUT -- COMMAND...: OUTPUT is the path that must not exist afterwards ("-": none).
bad() {
  local culprit=$1 output=$2
  n=$((n + 1))
  expect_clean_failure "$culprit" 120 "${@:3}"
  if [[ $output != - ]]; then
    [[ ! -e $output ]] || fail "case $n left $output: ${*:4}"
    ! compgen -G "$output.tmp-*" > /dev/null || fail "case $n left a temporary $output.tmp-*: ${*:4}"
  fi
}
C=$CBEDNET
T=(--arch basic:1 --width 4 --stem small --batch 4 --max-steps 1 --val-split none --train-split all)
"$C" convert --in "$DATA" --split test --size 16 --out packed.h5 > /dev/null
"$PY" "$here/make_bad_files.py" "$DATA/test/batch_test_0.h5" packed.h5 bad > /dev/null
"$C" train --data packed.h5 "${T[@]}" --out r0 > /dev/null
mkdir -p emptydir && : > a-file

# ---- simulate ------------------------------------------------------------------------------------------------
bad "--size"                  s -- "$C" simulate --out s --materials 4 --size 15
bad "--space-groups"          s -- "$C" simulate --out s --materials 4 --size 16 --space-groups 231
bad "--space-groups.*'x'"     s -- "$C" simulate --out s --materials 4 --size 16 --space-groups 2,x
bad "--samples-per-material"  s -- "$C" simulate --out s --materials 4 --size 16 --samples-per-material 11
bad "--materials"             s -- "$C" simulate --out s --materials -3 --size 16
bad "--thickness"             s -- "$C" simulate --out s --materials 4 --size 16 --thickness -5
bad "a-file"                  - -- "$C" simulate --out a-file --materials 4 --size 16
# ---- convert -------------------------------------------------------------------------------------------------
bad "/nonexistent/dir"        o.h5 -- "$C" convert --in /nonexistent/dir --out o.h5
bad "--size 7"                o.h5 -- "$C" convert --in "$DATA" --out o.h5 --size 7
bad "--dtype.*float64"        o.h5 -- "$C" convert --in "$DATA" --out o.h5 --dtype float64
bad "--views.*triple"         o.h5 -- "$C" convert --in "$DATA" --out o.h5 --views triple
bad "--split.*bogus"          o.h5 -- "$C" convert --in "$DATA" --out o.h5 --split bogus
bad "emptydir"                o.h5 -- "$C" convert --in emptydir --out o.h5
bad "/nonexistent/out"        - -- "$C" convert --in "$DATA" --out /nonexistent/out/o.h5
bad "already a packed file"   o.h5 -- "$C" convert --in packed.h5 --out o.h5
# ---- damaged SMC files (convert reads every sample): file and group named --------------------------------------
for damage in stack_rank2 stack_2_channels stack_not_square stack_other_size stack_missing stack_strings \
              pixel_nan pixel_inf sg_text sg_zero sg_231 sg_empty sg_float sg_missing; do
  bad "bad/$damage.h5, group sample_" o.h5 -- "$C" convert --in "bad/$damage.h5" --out o.h5
done
grep -q "nan" <("$C" convert --in bad/pixel_nan.h5 --out o.h5 2>&1) || fail "NaN pixel: message does not say nan"
for damage in no_samples truncated empty text; do
  bad "bad/$damage.h5" o.h5 -- "$C" convert --in "bad/$damage.h5" --out o.h5
done
# ---- inspect ---------------------------------------------------------------------------------------------------
bad "/nonexistent"            - -- "$C" inspect /nonexistent
bad "--split.*bogus"          - -- "$C" inspect "$DATA" --split bogus
bad "bad/truncated.h5"        - -- "$C" inspect bad/truncated.h5
bad "bad/empty.h5"            - -- "$C" inspect bad/empty.h5
# ---- damaged packed files (inspect and train read the metadata) ------------------------------------------------
for damage in packed_label_0 packed_label_300 packed_no_labels packed_short_labels packed_images_rank3 \
              packed_material_id_out_of_range; do
  bad "bad/$damage.h5" - -- "$C" inspect "bad/$damage.h5"
  bad "bad/$damage.h5" run -- "$C" train --data "bad/$damage.h5" "${T[@]}" --out run
done
# The file and its attribute are named (they once named --dtype, an option the user did not give).
bad "packed_bad_dtype_attr.h5: attribute 'dtype'.*float64" run -- "$C" train --data bad/packed_bad_dtype_attr.h5 "${T[@]}" --out run
# ---- train: options, INI files, data ---------------------------------------------------------------------------
printf 'epochs = ten\n' > ten.ini; printf 'frobnicate = 1\n' > unknown.ini; printf '[train\nepochs=1\n' > broken.ini
bad "'epochs'"                run -- "$C" train --config ten.ini --data packed.h5 --out run
bad "frobnicate"              run -- "$C" train --config unknown.ini --data packed.h5 --out run
bad "invalid line '\[train'"  run -- "$C" train --config broken.ini --data packed.h5 --out run
bad "--lr"                    run -- "$C" train --data packed.h5 "${T[@]}" --out run --lr -1
bad "--nonfinite.*maybe"      run -- "$C" train --data packed.h5 "${T[@]}" --out run --nonfinite maybe
bad "bogus"                   run -- "$C" train --data packed.h5 --arch basic:1 --width 4 --stem small --out run --train-split all --val-split bogus
bad "--keep-checkpoints"      run -- "$C" train --data packed.h5 "${T[@]}" --out run --keep-checkpoints 0
bad "emptydir"                run -- "$C" train --data emptydir "${T[@]}" --out run
# Pixels are checked when read: one whole epoch reads the NaN sample. The failure comes mid-run, so the run
# directory (config.ini, train.log saying why) stays, but it must hold no checkpoint.
bad "bad/pixel_nan.h5.*nan"   - -- "$C" train --data bad/pixel_nan.h5 --arch basic:1 --width 4 --stem small --batch 32 \
  --epochs 1 --val-split none --train-split all --out run
[[ -z "$(ls -A run/checkpoints 2>/dev/null)" ]] || fail "a run that failed on a NaN pixel left checkpoints"
rm -rf run
bad "--grid"                  run -- "$C" train --data packed.h5 "${T[@]}" --out run --grid 0x1
bad "config.ini"              - -- "$C" train --data packed.h5 "${T[@]}" --out r0   # a previous run, no --resume
# ---- evaluate / predict ----------------------------------------------------------------------------------------
bad "--split.*bogus"          e.json -- "$C" evaluate --checkpoint r0 --data packed.h5 --split bogus --out e.json
bad "--batch"                 e.json -- "$C" evaluate --checkpoint r0 --data packed.h5 --batch 0 --out e.json
bad "/nonexistent"            e.json -- "$C" evaluate --checkpoint /nonexistent --data packed.h5 --out e.json
bad "emptydir"                e.json -- "$C" evaluate --checkpoint emptydir --data packed.h5 --out e.json
bad "bad/sg_231.h5"           e.json -- "$C" evaluate --checkpoint r0 --data bad/sg_231.h5 --split all --out e.json
bad "--format.*xml"           p.xml -- "$C" predict --checkpoint r0 --input packed.h5 --out p.xml --format xml
bad "'--out' is required"     - -- "$C" predict --checkpoint r0 --input packed.h5
bad "/nonexistent/dir"        - -- "$C" predict --checkpoint r0 --input packed.h5 --out /nonexistent/dir/p.csv
bad "bad/stack_missing.h5"    p.csv -- "$C" predict --checkpoint r0 --input bad/stack_missing.h5 --out p.csv
bad "bad/truncated.h5"        p.csv -- "$C" predict --checkpoint bad/truncated.h5 --input packed.h5 --out p.csv
bad "bad/packed_label_0.h5"   p.csv -- "$C" predict --checkpoint bad/packed_label_0.h5 --input packed.h5 --out p.csv
# ---- model / bench / plan --------------------------------------------------------------------------------------
bad "resnet7"                 - -- "$C" model --arch resnet7
bad "--arch basic:1,x"        - -- "$C" model --arch basic:1,x
bad "--classes"               - -- "$C" model --arch resnet18 --classes 0
bad "--width"                 - -- "$C" model --arch resnet18 --width 0
bad "--size"                  - -- "$C" model --arch resnet18 --size 0
bad "--dropout"               - -- "$C" model --arch resnet18 --dropout 1.5
bad "--stem.*tiny"            - -- "$C" model --arch resnet18 --stem tiny
bad "--device.*tpu"           - -- "$C" bench --device tpu --arch resnet18 --size 32
bad "--batch"                 - -- "$C" bench --arch resnet18 --size 32 --batch 0
bad "--micro-batch-size"      - -- "$C" bench --arch resnet18 --size 32 --batch 16 --micro-batch-size 3
bad "--precision.*fp8"        - -- "$C" bench --arch resnet18 --size 32 --precision fp8
bad "--nodes"                 - -- "$C" plan --nodes 0 --batch 64
bad "--gpus-per-node"         - -- "$C" plan --nodes 1 --gpus-per-node 0 --batch 64
bad "--memory-gib"            - -- "$C" plan --nodes 1 --batch 64 --memory-gib -1
bad "'--batch' is required"   - -- "$C" plan --nodes 1 --gpus-per-node 8
bad "unrecognised.*--frob"    - -- "$C" plan --nodes 1 --batch 64 --frob
echo "bad inputs: $n cases, each a clean non-zero exit naming the culprit, no crash, no hang, no output"
