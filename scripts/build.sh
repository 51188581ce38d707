#!/usr/bin/env bash
# Configures and builds CBEDNet into BUILD_DIR (default: build). Extra arguments go to CMake's configure step,
# e.g. scripts/build.sh -DCBEDNET_CUDA=ON. Re-running only rebuilds what changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$root/build"}
jobs=${JOBS:-$(nproc)}
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@"
cmake --build "$build_dir" -j "$jobs"
