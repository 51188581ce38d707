// Direct reads of a packed file's sample chunks: the file offset of every sample's chunk is looked up once with
// HDF5 (H5Dget_chunk_info_by_coord), after which a batch is read with plain pread() calls from several threads,
// without entering HDF5. Only for the packed layout's uncompressed chunks of exactly one sample.
//
// Why: on one rank the HDF5 path (one collective H5Dread per sample, serialised by the library lock because the
// Debian HDF5 is not thread-safe) reads on one core at the speed of one memory copy from the page cache; several
// threads copy in parallel (docs/data-format.md §4). Reads are independent, not collective.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5/packed_file.hpp"

namespace cbednet::io {

class DirectChunkReader {
 public:
  // `images`: the open /images dataset of `info.path`. The caller holds the HDF5 library lock. Throws IoError
  // naming the file when the dataset is not chunked one sample per chunk, is filtered (compressed), or has a
  // sample without storage.
  DirectChunkReader(hid_t file, hid_t images, const PackedInfo& info, int threads);
  ~DirectChunkReader();
  DirectChunkReader(const DirectChunkReader&) = delete;
  DirectChunkReader& operator=(const DirectChunkReader&) = delete;

  // Samples `file_indices` (dataset rows) into out[k*C*H*W] as float32: the calling thread and up to
  // `threads` - 1 helper threads, each taking every threads-th sample.
  void read(const std::vector<std::int64_t>& file_indices, float* out) const;
  int threads() const { return threads_; }

 private:
  // Sample `i` into dst (per_sample_ floats); half is scratch for float16 files.
  void read_one(std::int64_t i, float* dst, std::vector<std::uint16_t>& half) const;

  std::string path_;
  PackedDType dtype_;
  std::size_t per_sample_ = 0;  // elements
  std::size_t chunk_bytes_ = 0;
  std::vector<std::uint64_t> offsets_;  // byte offset of sample i's chunk in the file
  int fd_ = -1;
  int threads_ = 1;
};

}  // namespace cbednet::io
