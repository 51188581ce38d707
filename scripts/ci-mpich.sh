#!/usr/bin/env bash
# The MPI code and its tests against a second MPI: Debian's MPICH with libhdf5-mpich-dev (both coexist with Open
# MPI; Debian's alternatives keep Open MPI the default). A lean build: CMake configures everything, but only the
# targets the MPI tests (CTest label `mpi`) run are built, and only those tests run.
#   [BUILD_DIR=build-mpich] scripts/ci-mpich.sh [CMake options]     (ccache is used when installed)
# Installs mpich, libmpich-dev and libhdf5-mpich-dev when missing (apt-get; nothing is removed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$root/build-mpich"}
jobs=${JOBS:-$(nproc)}
start=$(date +%s)

if ! command -v mpiexec.mpich > /dev/null || [[ ! -x /usr/bin/h5pcc.mpich ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mpich libmpich-dev libhdf5-mpich-dev
fi

launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# MPI_EXECUTABLE_SUFFIX makes FindMPI take mpicc.mpich and mpiexec.mpich (not the alternatives' Open MPI);
# h5pcc.mpich is the parallel HDF5 built against MPICH.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCBEDNET_CUDA=OFF \
  -DMPI_EXECUTABLE_SUFFIX=.mpich -DHDF5_C_COMPILER_EXECUTABLE=/usr/bin/h5pcc.mpich "${launcher[@]}" "$@" > /dev/null
grep -q '^MPIEXEC_EXECUTABLE:FILEPATH=.*mpich' "$build_dir/CMakeCache.txt" ||
  { echo "ci-mpich: the configuration did not pick MPICH's launcher" >&2; exit 1; }

# The targets of the MPI tests: the test programs CTest starts under mpiexec, and cbednet for the shell tests.
targets=$(ctest --test-dir "$build_dir" -N -L mpi --show-only=json-v1 | python3 -c '
import json, os, sys
tests_dir = os.path.realpath(os.path.join(sys.argv[1], "tests"))
targets = set()
for test in json.load(sys.stdin)["tests"]:
    command = test.get("command", [])
    if command and os.path.basename(command[0]) == "bash":
        targets.add("cbednet")
    targets.update(os.path.basename(w) for w in command if os.path.dirname(os.path.realpath(w)) == tests_dir)
print(" ".join(sorted(targets)))' "$build_dir")
echo "MPICH build: $targets"
# shellcheck disable=SC2086
cmake --build "$build_dir" -j "$jobs" --target $targets
built=$(date +%s)

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$build_dir" -L mpi --output-on-failure -j "$jobs" --timeout 900
echo "MPICH stage: build $((built - start)) s, tests $(($(date +%s) - built)) s"
