#!/usr/bin/env bash
# Checks an installed CBEDNet: the binary runs, and a downstream CMake project links the libraries through
# find_package(CBEDNet).
set -euo pipefail
prefix=$1
"$prefix/bin/cbednet" --version >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(cbednet_consumer CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(CBEDNet REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE CBEDNet::cbednet_core)
CMAKE
cat > "$work/main.cpp" <<'CPP'
#include <cstdio>
#include "core/model/model.hpp"
int main() {
  const auto model = cbednet::build_resnet(cbednet::resnet_spec("resnet50"));
  std::printf("%ld\n", static_cast<long>(model.parameter_count()));
  return model.parameter_count() == 23979302 ? 0 : 1;
}
CPP
cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer" >/dev/null
echo "install check: cbednet --version runs; find_package(CBEDNet) consumer builds and runs"
