// libFuzzer entry point shared by every target: the input becomes a file (the readers under test take paths),
// which the probe named by CBEDNET_FUZZ_PROBE opens and reads through. A clean cbednet::Error is fine; anything
// else (another exception escaping, a sanitizer report, a signal) is a finding.
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/probes.hpp"

namespace {
std::string input_path;
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // The packed reader may use MPI-IO; a singleton MPI_Init keeps every code path usable.
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  const char* dir = std::getenv("TMPDIR");
  input_path = std::string(dir != nullptr ? dir : "/tmp") + "/cbednet-fuzz-" + std::to_string(::getpid()) +
               (CBEDNET_FUZZ_SUFFIX);
  std::atexit([] { std::remove(input_path.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* file = std::fopen(input_path.c_str(), "wb");
  if (file == nullptr) std::abort();  // the harness itself is broken
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  (void)cbednet::fuzz::CBEDNET_FUZZ_PROBE(input_path);
  // HDF5 keeps freed blocks on its own free lists for reuse; over thousands of malformed inputs they grow the
  // process past libFuzzer's RSS limit without any one input being at fault. Releasing them per input keeps the
  // limit a test of each input.
  H5garbage_collect();
  return 0;
}
