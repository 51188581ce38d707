#!/usr/bin/env bash
# Prepares the one device call of a session with a GPU machine (see ../shared/device/README.md): builds the CUDA
# configuration for Hopper (sm_90 + PTX) in BUILD_DIR, packs the runtime of cbednet and the GPU test binaries with
# the shared make-kit.sh, and puts the kit, scripts/gpu-run.sh and the PyTorch baseline into .gpu/ (ignored through
# .git/info/exclude), which the device call carries. Then, with the device tool:
#   run(command="GPU_RUN_SECTIONS='1 2 2b 3 2c' bash .gpu/gpu-run.sh", carry=[".gpu"], timeout_s=590)
# (docs/gpu-backend.md, "Running on a GPU", has the second call)
# and commit what comes back under bench/results/ (card, commit, numbers).
#   BUILD_DIR (build-cuda)  MAKE_KIT (../shared/device/make-kit.sh)  BASELINE (../shared/bench/torch_resnet_baseline.py)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build-cuda"}
make_kit=${MAKE_KIT:-"$root/../shared/device/make-kit.sh"}
baseline=${BASELINE:-"$root/../shared/bench/torch_resnet_baseline.py"}
for f in "$make_kit" "$baseline"; do [[ -f $f ]] || { echo "gpu-kit: missing $f" >&2; exit 1; }; done

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCBEDNET_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="90-real;90-virtual" > /dev/null
cmake --build "$build" -j "$(nproc)" --target cbednet test_gpu_backend test_gpu_resnet_step test_gpu_nccl_transport \
  test_gpu_flat_updates test_gpu_sim_multislice test_gpu_cuda_graph test_gpu_fused_norm test_gpu_training_graph \
  cbednet-graph-plans

grep -qx '/.gpu/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$root/.git/info/exclude"
rm -rf "$root/.gpu" && mkdir -p "$root/.gpu"
bash "$make_kit" "$build/devkit" "$build/bin/cbednet" "$build/tests/test_gpu_backend" \
  "$build/tests/test_gpu_resnet_step" "$build/tests/test_gpu_nccl_transport" "$build/tests/test_gpu_flat_updates" \
  "$build/tests/test_gpu_sim_multislice" "$build/tests/test_gpu_cuda_graph" "$build/tests/test_gpu_fused_norm" \
  "$build/tests/test_gpu_training_graph" "$build/bin/cbednet-graph-plans"
cp "$build/devkit.tar.xz" "$baseline" "$root/scripts/gpu-run.sh" "$root/scripts/gpu_summary.py" \
  "$root/bench/gpu/torch_kernel_profile.py" \
  "$root/bench/gpu/profiles/h100-sxm5-80gb.json" "$root/.gpu/"
git -C "$root" rev-parse HEAD > "$root/.gpu/commit"
git -C "$root" status --short --untracked-files=no > "$root/.gpu/dirty"
du -sh "$root/.gpu"
echo "gpu-kit: ready; carry .gpu and run: bash .gpu/gpu-run.sh"
