#!/usr/bin/env bash
# Runs on the GPU machine in the one device call (prepared by scripts/gpu-kit.sh): the GPU tests (convolutions on
# both cuDNN APIs), CBEDNet's ResNet-50 benchmark with --conv-api legacy and graph beside PyTorch's on the same
# card, compute-sanitizer over the tests, and the two-ranks-on-one-GPU check of [Parallel]. Every step has its own
# time limit and writes under $OUT (logs, JSON); a failing step does not stop the others. The steps run most
# important first; the whole call stays within GPU_RUN_BUDGET seconds (the last run at commit 6d32a02 took about
# 150 s of steps; the graph path adds graph building and autotuning to its first steps).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
cd "$here"
tar xJf devkit.tar.xz
# shellcheck disable=SC1091
source devkit/device-env.sh
export OMP_NUM_THREADS=4
# The whole call must end before the device tool's limit (GPU_RUN_BUDGET seconds, default 540), so every step's
# limit is cut to what remains, and a step with under 15 s left is skipped and recorded as such.
budget=${GPU_RUN_BUDGET:-540}
started=$(date +%s)
# GPU_RUN_SECTIONS (e.g. "1 2 2b"): run only those sections' steps, so that a second device call can take the rest
# (default: all, most important first).
sections=" ${GPU_RUN_SECTIONS:-all} "
current=all
section() { current=$1; }
step() {  # step NAME SECONDS COMMAND...: runs COMMAND with a limit, logs to $out/NAME.log, records the status
  local name=$1 limit=$2; shift 2
  if [[ $sections != " all " && $sections != *" $current "* ]]; then
    echo "{\"step\": \"$name\", \"rc\": \"skipped: section $current not selected\"}" >> "$out/steps.jsonl"
    return
  fi
  local left=$((budget - ($(date +%s) - started) - 5))
  ((limit > left)) && limit=$left
  if ((limit < 15)); then
    echo "{\"step\": \"$name\", \"rc\": \"skipped: out of time\"}" | tee -a "$out/steps.jsonl"
    return
  fi
  local t0=$(date +%s) rc=0
  timeout -k 10 "$limit" "$@" > "$out/$name.log" 2>&1 || rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(($(date +%s) - t0))}" | tee -a "$out/steps.jsonl"
}
{
  echo "commit $(cat commit)"; [[ -s dirty ]] && { echo "uncommitted changes:"; cat dirty; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  nvidia-smi
} > "$out/machine.txt" 2>&1

section 1
# 0. The card's own cuDNN device description (a second; bench/gpu/profiles/ holds a hand-written H100 one, and the
#    end of section 2c reruns the deviceless plan check with this one).
step save_device_profile 30 cbednet-graph-plans --save-profile "$out/device-profile.json"
# 1. GPU tests (GoogleTest JSON reports). test_gpu_backend runs the per-op suite with the legacy and the graph
#    convolution API and CudaGraphConv (graph-API convolutions in fp32, TF32, bf16, fp16; which API ran each layer;
#    bitwise repeatability); the first use of each graph shape is autotuned, hence the longer limit.
step test_gpu_backend 150 test_gpu_backend --gtest_output=json:"$out/test_gpu_backend.json"
step test_gpu_resnet_step 120 test_gpu_resnet_step --gtest_output=json:"$out/test_gpu_resnet_step.json"
step test_gpu_nccl_transport 45 mpirun -n 1 test_gpu_nccl_transport --gtest_output=json:"$out/test_gpu_nccl_transport.json"
step test_gpu_flat_updates 60 test_gpu_flat_updates --gtest_output=json:"$out/test_gpu_flat_updates.json"
# CUDA graphs: ResNet-18 folded inference captured once and replayed (bf16, fp32; legacy and graph API), bitwise
# against the eager forward, no allocation over 20 replays; the capture fallbacks.
step test_gpu_cuda_graph 90 test_gpu_cuda_graph --gtest_output=json:"$out/test_gpu_cuda_graph.json"
# The whole training step (small ResNet-18, fp32 and bf16, legacy API) recorded once and replayed: every replay's
# parameters, momentum, running and loss statistics bitwise those of eager steps; no allocation over 10 replays.
step test_gpu_training_graph 90 test_gpu_training_graph --gtest_output=json:"$out/test_gpu_training_graph.json"
# The fused batch-norm operations for training (issue 20 item 2; never run on a GPU before): the device kernels
# (--conv-api legacy) and the fused cuDNN graphs or their reported fallback (--conv-api graph), fp32, bf16
# and fp16 against the fp64 reference; which path ran each fused convolution (fp16: the NormConvolution graphs);
# bitwise repeatability.
step test_gpu_fused_norm 90 test_gpu_fused_norm --gtest_output=json:"$out/test_gpu_fused_norm.json"

section 2
# 2. CBEDNet and PyTorch, ResNet-50 at 3x512x512, batch 64, on this card in this call: the convolutions through
#    cuDNN's legacy API, then through its graph API (warm-up covers building and autotuning each graph; the JSON's
#    conv_layers says which API ran each layer, "legacy-fallback" where a graph was refused), both with
#    deterministic convolution engines; then the graph path with every backend operation timed alone
#    (synchronised): where the step's time goes. The non-deterministic runs come last (section 5).
r50=(bench --device cuda --arch resnet50 --size 512 --batch 64 --precision bf16)
step bench_bf16_legacy 100 cbednet "${r50[@]}" --steps 20 --warmup 5 --conv-api legacy
step bench_bf16_graph 160 cbednet "${r50[@]}" --steps 20 --warmup 5 --conv-api graph
# Issue 20 item 2: the residual blocks through the fused batch-norm operations (genstats out of each convolution,
# scale + bias + ReLU into the next, dgrad + dReLU + BN weight gradients), on the graph API (the fused cuDNN graphs) and
# on the legacy API (the same operations as separate kernels).
step bench_bf16_graph_fused 160 cbednet "${r50[@]}" --steps 20 --warmup 5 --conv-api graph --fused-batch-norm on
step bench_bf16_legacy_fused 100 cbednet "${r50[@]}" --steps 20 --warmup 5 --conv-api legacy --fused-batch-norm on
# Issue 20 item 3 for training: the whole step recorded once as a CUDA graph and replayed (TrainingGraph; the JSON's
# "cuda_graph" is false where the capture fell back and every step ran eagerly).
step bench_bf16_graph_captured 160 cbednet "${r50[@]}" --steps 20 --warmup 5 --conv-api graph --cuda-graph on
runs=(bench_bf16_legacy bench_bf16_graph bench_bf16_graph_fused bench_bf16_legacy_fused bench_bf16_graph_captured)
collect_bench() {
  for b in "${runs[@]}"; do
    grep -h '^{' "$out/$b.log" | sed "s/^{/{\"run\": \"$b\", /"
  done > "$out/cbednet_bench.jsonl" 2> /dev/null
}
collect_bench
python=${PYTHON:-python3}
[[ -x /opt/torch/.venv/bin/python ]] && ! "$python" -c 'import torch' 2> /dev/null && python=/opt/torch/.venv/bin/python
step torch_baseline 150 "$python" torch_resnet_baseline.py --arch resnet50 --size 512 --batch 64 --modes bf16cl \
  --infer --json "$out/torch_baseline.jsonl"
# The headline target (bf16 >= 1.3x torch.compile) is a ratio within one call, so torch.compile runs here, beside
# the bf16 runs above, not in a later call (its compilation takes a minute or more).
step torch_compile 240 "$python" torch_resnet_baseline.py --arch resnet50 --size 512 --batch 64 \
  --modes bf16cl-compile --json "$out/torch_baseline.jsonl"
step bench_bf16_graph_profile 100 cbednet "${r50[@]}" --steps 5 --warmup 3 --profile-ops --conv-api graph
runs+=(bench_bf16_graph_profile)
collect_bench

section 2b
# 2b. Inference (issue 20 item 5; before the sanitizer and the non-deterministic runs, which matter less):
#     ResNet-50's evaluation forward in bf16 at batch 64 with the batch norms folded into the convolutions (legacy API: the convolution and one epilogue kernel; graph API: the fused
#     convolution + bias + residual + ReLU graph) and kept apart; PyTorch's eval forward is in torch_baseline above.
rinf=(bench --mode infer --device cuda --arch resnet50 --size 512 --batch 64 --precision bf16 --steps 20 --warmup 5)
step infer_bf16_folded_legacy 60 cbednet "${rinf[@]}" --conv-api legacy
step infer_bf16_folded_graph 100 cbednet "${rinf[@]}" --conv-api graph
step infer_bf16_apart_legacy 60 cbednet "${rinf[@]}" --conv-api legacy --fold-batch-norm off
# The folded legacy forward captured once as a CUDA graph and replayed ("cuda_graph": false if the capture fell back).
step infer_bf16_folded_legacy_graphs 60 cbednet "${rinf[@]}" --conv-api legacy --cuda-graph on
runs+=(infer_bf16_folded_legacy infer_bf16_folded_graph infer_bf16_apart_legacy infer_bf16_folded_legacy_graphs)
collect_bench
# PyTorch's kernel time per step by kind, the counterpart of bench_bf16_graph_profile (section 2) in the same call:
# summary.md sets the two breakdowns side by side (issue 20 item 7).
step torch_kernel_profile 90 "$python" torch_kernel_profile.py --arch resnet50 --size 512 --batch 64 --mode bf16cl \
  --json "$out/torch_kernel_profile.jsonl"

section 3
# 3. (runs before 2c: it takes seconds and checks correctness, issue 20 item 6) Two ranks sharing the GPU over the
#    MPI path against one rank: a tiny simulated dataset, 6 steps, fp32, the
#    same micro-batch of 4 (batch-norm statistics are per micro-batch), so the two must agree to rounding.
data=$PWD/sim
simulate_data=(cbednet simulate --out "$data" --materials 24 --space-groups 2,14,225 --size 32 --seed 5)
step simulate 40 "${simulate_data[@]}"
train=(train --data "$data" --arch basic:1,1 --width 8 --stem small --log-scale --epochs 1 --batch 8
       --micro-batch-size 4 --val-split none --max-steps 6 --device cuda --precision fp32 --seed 3)
step train_1rank 60 cbednet "${train[@]}" --out "$PWD/one"
step train_2ranks_mpi 75 mpirun -n 2 cbednet "${train[@]}" --transport mpi --out "$PWD/two"
for r in one two; do cp "$PWD/$r/metrics.csv" "$out/train_${r}_metrics.csv" 2>/dev/null; done
cp "$PWD"/one/checkpoints/ckpt-00000006.h5 "$out/one.h5" 2>/dev/null
cp "$PWD"/two/checkpoints/ckpt-00000006.h5 "$out/two.h5" 2>/dev/null

section 2c
# 2c. Issue 20 item 7, the rest of the measurement set (as far as the budget reaches): TF32 and fp16 training against
#     PyTorch's tf32 and fp16cl (torch.compile ran in section 2, beside the bf16 runs),
#     ResNet-152 at batch 32 in bf16 against bf16cl (PyTorch's kernel time per step by kind ran at the end of 2b).
step bench_tf32_graph 100 cbednet bench --device cuda --arch resnet50 --size 512 --batch 64 --precision tf32 \
  --steps 10 --warmup 3 --conv-api graph
step bench_fp16_graph 100 cbednet bench --device cuda --arch resnet50 --size 512 --batch 64 --precision fp16 \
  --steps 20 --warmup 5 --conv-api graph
# fp16 is the one precision where cuDNN 9.19 has NormConvolution engines for the fused batch norm (stats forward and
# norm+ReLU wgrad; bench/results/deviceless-plans-2026-12-07): the MLPerf configuration, against the line above.
step bench_fp16_graph_fused 100 cbednet bench --device cuda --arch resnet50 --size 512 --batch 64 --precision fp16 \
  --steps 20 --warmup 5 --conv-api graph --fused-batch-norm on
step bench_r152_bf16_graph 120 cbednet bench --device cuda --arch resnet152 --size 512 --batch 32 --precision bf16 \
  --steps 10 --warmup 3 --conv-api graph
runs+=(bench_tf32_graph bench_fp16_graph bench_fp16_graph_fused bench_r152_bf16_graph)
collect_bench
step torch_more_modes 150 "$python" torch_resnet_baseline.py --arch resnet50 --size 512 --batch 64 \
  --modes tf32 fp16cl --json "$out/torch_baseline.jsonl"
step torch_r152 90 "$python" torch_resnet_baseline.py --arch resnet152 --size 512 --batch 32 --modes bf16cl \
  --json "$out/torch_baseline.jsonl"
# cuDNN's plans for ResNet-50's graphs with the card's own profile (cbednet-graph-plans; seconds each): which graphs
# the card's engines take, beside what the hand-written profile gave (bench/results/deviceless-plans-2026-12-07).
step graph_plans_bf16 60 cbednet-graph-plans --profile "$out/device-profile.json" --precision bf16
step graph_plans_fp16 60 cbednet-graph-plans --profile "$out/device-profile.json" --precision fp16

section 4
# 4. compute-sanitizer over the GPU tests (a subset for racecheck: it is slow).
command -v compute-sanitizer > /dev/null || export PATH="$PATH:/usr/local/cuda/bin:/opt/cuda/bin"
if command -v compute-sanitizer > /dev/null; then
  # The legacy-API convolutions and the other cuDNN/cuBLAS operations; the graph path on one precision (the
  # autotune of every graph would take long under memcheck).
  step memcheck_backend 90 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 \
    test_gpu_backend --gtest_filter='*Conv*:*BatchNorm*:*Pool*:*Linear*:-*CudaGraphConv*:*graph_*'
  step memcheck_graph_conv 60 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 \
    test_gpu_backend --gtest_filter='*CudaGraphConv.AlignedChannelsRunOnTheGraphApi/bf16_nhwc'
  step racecheck_backend 60 compute-sanitizer --tool racecheck --error-exitcode 9 \
    test_gpu_backend --gtest_filter='*BatchNorm*:*Pool*'
else
  echo '{"step": "compute-sanitizer", "rc": "not installed"}' >> "$out/steps.jsonl"
fi
section 5
# 5. The non-deterministic engines on both APIs (faster weight gradients; last bits differ between runs).
step bench_bf16_nondet_legacy 100 cbednet "${r50[@]}" --steps 20 --warmup 5 --nondeterministic --conv-api legacy
step bench_bf16_nondet_graph 120 cbednet "${r50[@]}" --steps 20 --warmup 5 --nondeterministic --conv-api graph
runs+=(bench_bf16_nondet_legacy bench_bf16_nondet_graph)
collect_bench

section 6
# 6. Issues 17 and 21 on the GPU (compiled only so far, lowest priority): the multislice simulator's cuFFT engine
#    against the CPU engine (same draws, single-precision agreement) and its patterns/s with SMC's settings (the
#    issue's target: >= 4 per H100); ResNet-50 with --recompute blocks (step time and peak memory against
#    bench_bf16_legacy above); the tiny model trained with LAMB on the CUDA backend (host-side update).
step test_gpu_sim_multislice 60 test_gpu_sim_multislice --gtest_output=json:"$out/test_gpu_sim_multislice.json"
step simulate_multislice_bench 60 cbednet simulate --physics multislice --preset smc --engine cuda --bench
step bench_bf16_recompute 100 cbednet "${r50[@]}" --steps 10 --warmup 3 --conv-api legacy --recompute blocks
runs+=(bench_bf16_recompute)
collect_bench
# A later call may not have run section 3 on this machine: its data first, if missing (a second).
[[ -d $data/train ]] || step simulate_for_lamb 40 "${simulate_data[@]}"
step train_1rank_lamb 60 cbednet "${train[@]}" --optimizer lamb --out "$PWD/lamb"
cp "$PWD/lamb/metrics.csv" "$out/train_lamb_metrics.csv" 2>/dev/null

# What the call measured, as Markdown (ratios to PyTorch within this call, issue 20's targets): summary.md, and the
# verdicts as JSON; gpu_summary.py OUT1 OUT2 on the development machine joins two calls' folders the same way.
"${python:-python3}" gpu_summary.py "$out" --out "$out/summary.md" --json "$out/targets.json" 2> "$out/summary.err" ||
  echo '{"step": "summary", "rc": "gpu_summary.py failed: see summary.err"}' >> "$out/steps.jsonl"
# The device tool brings back only a few files: pack every log and report into one archive.
tar czf "$here/gpu-out.tar.gz" -C "$out" . && mv "$here/gpu-out.tar.gz" "$out/"
echo "gpu-run: done; see $out/steps.jsonl and $out/gpu-out.tar.gz"
