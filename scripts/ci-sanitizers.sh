#!/usr/bin/env bash
# CI: the CPU configuration built with AddressSanitizer + UndefinedBehaviorSanitizer (-DCBEDNET_SANITIZE=ON,
# project code only) and the whole CTest suite run under it (MPI tests included), then a ThreadSanitizer build of
# the I/O loader tests (the loader's prefetch thread). Leaks inside Open MPI, HDF5, OpenBLAS, oneDNN, OpenMP are
# suppressed (tests/reliability/lsan.supp); anything in CBEDNet's own code fails the run.
#   BUILD_DIR   (default build-asan)        the ASan/UBSan build folder
#   TSAN_DIR    (default build-tsan)        the ThreadSanitizer build folder; TSAN=0 skips it
#   JOBS        (default nproc)             build and ctest parallelism
#   CTEST_ARGS  (default: -LE asan_skip -E '^app\.preempt$')   tests to run. The label asan_skip marks tests
#               too slow under ASan (tests/reliability/CMakeLists.txt says which and why); app.preempt (131 s under
#               ASan: three 2-rank trainings) is excluded by name, its signal path being covered by
#               reliability.kill_rank and its exact resume by app.resume.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$root/build-asan"}
tsan_dir=${TSAN_DIR:-"$root/build-tsan"}
jobs=${JOBS:-$(nproc)}
start=$(date +%s)

echo "== ASan+UBSan build ($build_dir)"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCBEDNET_CUDA=OFF \
  -DCBEDNET_SANITIZE=ON -DCMAKE_CXX_COMPILER_LAUNCHER="$root/tests/reliability/sanitizer-cxx-launcher.sh" > /dev/null
cmake --build "$build_dir" -j "$jobs"
built=$(date +%s)
echo "   built in $((built - start)) s"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI unloads its plugins in MPI_Finalize; kept loaded, their allocations stay attributable to them (and to
# the suppressions). fast_unwind_on_malloc=0: third-party libraries have no frame pointers, and a leak whose stack
# stops at their first frame cannot be matched to a suppression.
export OMPI_MCA_mca_base_component_disable_dlclose=1
# halt_on_error: the first report fails the test. Open MPI's shared-memory transport maps memory ASan cannot
# track; detect_odr_violation=0 because HDF5/MPI plugins are dlopen'ed with duplicate globals (not ours).
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_odr_violation=0:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$root/tests/reliability/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/reliability/ubsan.supp"
# Open MPI forwards these to every rank through mpiexec's environment.
echo "== CTest under ASan+UBSan"
# shellcheck disable=SC2086
if [[ -n "${CTEST_ARGS:-}" ]]; then
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900 ${CTEST_ARGS}
else
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900 -LE asan_skip -E '^app\.preempt$'
fi
tested=$(date +%s)
echo "   suite in $((tested - built)) s"

if [[ "${TSAN:-1}" != 0 ]]; then
  echo "== ThreadSanitizer: I/O loader tests ($tsan_dir)"
  # A separate small build: -fsanitize=thread on everything compiled here (project code; MPI/HDF5 are not
  # instrumented, so races inside them are invisible, and their internal synchronisation is reported as
  # races only where it touches our memory: tests/reliability/tsan.supp).
  cmake -S "$root" -B "$tsan_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCBEDNET_CUDA=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$root/tests/reliability/sanitizer-cxx-launcher.sh" > /dev/null
  tsan_targets=$(ninja -C "$tsan_dir" -t targets all 2>/dev/null | grep -o '^tests/test_io_loader[^:]*' | sort -u)
  [[ -n "$tsan_targets" ]] || { echo "no loader test targets found" >&2; exit 1; }
  # shellcheck disable=SC2086
  cmake --build "$tsan_dir" -j "$jobs" --target $(basename -a $tsan_targets)
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/reliability/tsan.supp"
  ctest --test-dir "$tsan_dir" --output-on-failure -j "$jobs" --timeout 900 -R "${TSAN_TESTS:-loader}"
  echo "   TSan in $(( $(date +%s) - tested )) s"
fi
echo "== sanitizers finished in $(( $(date +%s) - start )) s"
