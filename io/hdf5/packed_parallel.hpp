// A packed file written by several ranks at once (`mpiexec -n R cbednet convert`), resumable after an interruption.
//
// Two phases, because parallel HDF5 cannot write variable-length data (the `materials` strings):
//   1. every rank opens "<out>.partial" through MPI-IO (collective create, or reopen to resume) and writes the
//      image rows of its own source files independently, into chunks allocated at creation (so raw writes never
//      touch the file's metadata, and a killed job leaves a file whose finished rows are intact);
//   2. rank 0 alone reopens it, adds the labels, material ids, split and materials datasets and the attributes, and
//      renames it to <out>.
// The same code runs on one rank (or without MPI), so a 1-rank and an R-rank conversion write the same bytes.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/packed_file.hpp"

namespace cbednet::io {

class PackedImagesWriter {
 public:
  // Collective over comm (MPI_COMM_NULL: this process alone, no MPI-IO). Creates `partial` with an `images` dataset
  // of n samples, or reopens it when `resume` (IoError naming it unless its images have this shape and type).
  PackedImagesWriter(std::string partial, std::size_t n, Shape sample, PackedDType dtype, MPI_Comm comm, bool resume);
  ~PackedImagesWriter();
  PackedImagesWriter(const PackedImagesWriter&) = delete;
  PackedImagesWriter& operator=(const PackedImagesWriter&) = delete;

  // Row i (independent: no other rank takes part).
  void write(std::size_t i, const float* chw);
  // Collective: closes the file; its rows are then on disk.
  void close();

 private:
  std::string path_;
  std::size_t n_;
  Shape shape_;
  PackedDType dtype_;
  h5::Handle file_, images_;
  std::vector<std::uint16_t> half_;
};

// What phase 2 adds: per-sample metadata and the root attributes (strings, and integers as int64).
struct PackedMetadata {
  std::vector<std::int16_t> labels;
  std::vector<std::int32_t> material_ids;
  std::vector<std::int8_t> split;
  std::vector<std::string> materials;
  std::vector<std::pair<std::string, std::string>> text_attributes;
  std::vector<std::pair<std::string, std::int64_t>> int_attributes;
};

// Phase 2, on one process: adds `metadata` to the closed `partial` file and renames it to `path`.
void finish_packed_file(const std::string& partial, const std::string& path, const PackedMetadata& metadata);

}  // namespace cbednet::io
