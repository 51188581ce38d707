// SMC-2019 layout -> packed layout (what `cbednet convert` runs), and the summary `cbednet inspect` prints.
#pragma once

#include <mpi.h>

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "core/tensor.hpp"
#include "io/hdf5/packed_file.hpp"
#include "io/preprocess.hpp"

namespace cbednet::io {

struct ConvertOptions {
  std::string in;             // SMC directory or file
  std::string out;            // packed file to create (replaced atomically)
  std::string split = "all";  // train | dev | test | all
  int size = 0;               // output H = W: S, S/2 or S/4; 0 keeps S
  bool log_scale = false;
  bool separate_views = false;  // one 1-channel sample per projection
  PackedDType dtype = PackedDType::f32;
  bool skip_bad = false;  // drop unreadable samples (counted) instead of failing
  std::string creator;    // recorded as the `creator` attribute (e.g. "cbednet 0.1.0")
  // Called after each sample this rank writes with (written by this rank, rows of the whole file), for progress.
  std::function<void(std::size_t, std::size_t)> on_written;
  // The ranks sharing the conversion (collective); MPI_COMM_NULL: this process alone (also without MPI).
  MPI_Comm comm = MPI_COMM_NULL;
};

struct ConvertReport {
  std::size_t samples = 0;                   // written
  std::size_t skipped = 0;                   // dropped as bad (skip_bad)
  std::vector<std::string> skipped_at_open;  // one message per file or sample dropped while indexing (every rank)
  std::vector<std::string> skipped_pixels;   // one per sample whose pixels failed this rank's check
  bool resumed = false;                      // an interrupted conversion of the same input and options was continued
  std::size_t resumed_rows = 0;              // rows found written by the interrupted run (their files not read again)
  Shape sample{};                            // {1, C, H, W}
  std::string preprocessing;
};

// Writes options.out via "<out>.partial" (and its .state and .done-<rank> files beside it), renamed into place at
// the end. On an error nothing is left behind; a job killed mid-way leaves them, and the same command resumes,
// converting only the source files not finished. Collective over options.comm.
ConvertReport convert_to_packed(const ConvertOptions& options);

struct DataSummary {
  std::string kind;  // "smc-directory", "smc-file", "packed"
  std::string path;
  std::size_t samples = 0;
  Shape sample{};                              // {1, C, H, W}
  std::string dtype;                           // "float32" / "float16"
  std::array<std::size_t, 4> split_counts{};   // train, dev, test, unknown
  std::map<int, std::size_t> by_space_group;   // 1..230 -> count (only present groups)
  std::array<std::size_t, 8> by_system{};      // [1..7] crystal systems
  std::string preprocessing, source, creator;  // packed files
  std::size_t materials = 0;
};

DataSummary summarise(const std::string& path, const std::string& split = "all");
std::string to_json(const DataSummary& summary);
std::string to_text(const DataSummary& summary);

}  // namespace cbednet::io
