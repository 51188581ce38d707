#include "io/hdf5/direct_chunks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>

#include "core/error.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/half.hpp"

namespace cbednet::io {

using h5::Kind;

DirectChunkReader::DirectChunkReader(hid_t file, hid_t images, const PackedInfo& info, int threads)
    : path_(info.path), dtype_(info.dtype), threads_(threads) {
  const std::string ctx = h5::where(info.path, "/images");
  CBEDNET_REQUIRE(threads >= 1, InvalidArgument, "direct chunk reads: need at least one thread, got ", threads);
  per_sample_ = static_cast<std::size_t>(info.sample.per_sample());
  chunk_bytes_ = per_sample_ * (info.dtype == PackedDType::f16 ? 2 : 4);
  const auto dcpl = h5::checked(H5Dget_create_plist(images), Kind::plist, ctx, "getting the creation properties");
  CBEDNET_REQUIRE(H5Pget_layout(dcpl.get()) == H5D_CHUNKED, IoError, ctx,
                  ": direct chunk reads need a chunked dataset (write it with cbednet convert)");
  CBEDNET_REQUIRE(H5Pget_nfilters(dcpl.get()) == 0, IoError, ctx,
                  ": direct chunk reads need uncompressed (unfiltered) chunks");
  hsize_t chunk[4] = {};
  CBEDNET_REQUIRE(
      H5Pget_chunk(dcpl.get(), 4, chunk) == 4 && chunk[0] == 1 && chunk[1] == static_cast<hsize_t>(info.sample.c) &&
          chunk[2] == static_cast<hsize_t>(info.sample.h) && chunk[3] == static_cast<hsize_t>(info.sample.w),
      IoError, ctx, ": direct chunk reads need one sample per chunk");
  // Chunk addresses are relative to the file's base address, which a user block moves.
  const auto fcpl = h5::checked(H5Fget_create_plist(file), Kind::plist, ctx, "getting the file creation properties");
  hsize_t userblock = 0;
  h5::check(H5Pget_userblock(fcpl.get(), &userblock), ctx, "H5Pget_userblock");
  offsets_.resize(info.n);
  for (std::size_t i = 0; i < info.n; ++i) {
    const hsize_t start[4] = {static_cast<hsize_t>(i), 0, 0, 0};
    unsigned filter_mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t bytes = 0;
    h5::check(H5Dget_chunk_info_by_coord(images, start, &filter_mask, &address, &bytes), ctx,
              "H5Dget_chunk_info_by_coord");
    CBEDNET_REQUIRE(address != HADDR_UNDEF && bytes == chunk_bytes_, IoError, ctx, ": sample ", i,
                    address == HADDR_UNDEF ? " was never written" : " has a chunk of unexpected size");
    offsets_[i] = static_cast<std::uint64_t>(address + userblock);
  }
  fd_ = ::open(info.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_error<IoError>("file ", info.path, ": cannot be opened for direct reads: ", std::strerror(errno));
}

DirectChunkReader::~DirectChunkReader() {
  if (fd_ >= 0) ::close(fd_);
}

void DirectChunkReader::read_one(std::int64_t i, float* dst, std::vector<std::uint16_t>& half) const {
  CBEDNET_REQUIRE(i >= 0 && static_cast<std::size_t>(i) < offsets_.size(), IoError, "file ", path_, ": sample index ",
                  i, " out of range (", offsets_.size(), ")");
  if (dtype_ == PackedDType::f16) half.resize(per_sample_);
  auto* bytes = dtype_ == PackedDType::f16 ? reinterpret_cast<char*>(half.data()) : reinterpret_cast<char*>(dst);
  std::size_t done = 0;
  while (done < chunk_bytes_) {
    const ssize_t got = ::pread(fd_, bytes + done, chunk_bytes_ - done,
                                static_cast<off_t>(offsets_[static_cast<std::size_t>(i)] + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw_error<IoError>("file ", path_, ", sample ", i, ": read failed",
                           got < 0 ? std::string(": ") + std::strerror(errno) : std::string(" (file truncated?)"));
    done += static_cast<std::size_t>(got);
  }
  if (dtype_ == PackedDType::f16)
    for (std::size_t e = 0; e < per_sample_; ++e) dst[e] = half_to_float(half[e]);
}

void DirectChunkReader::read(const std::vector<std::int64_t>& file_indices, float* out) const {
  const std::size_t n = file_indices.size();
  const auto workers = std::min<std::size_t>(static_cast<std::size_t>(threads_), n);
  // Thread t reads samples t, t + T, ...: each sample is one large pread (or a few, if interrupted). Plain
  // threads rather than OpenMP: an OpenMP team spins while it waits, which with several ranks per core turned
  // 1.7x the raw rate into 0.1x here.
  const auto part = [&](std::size_t t, std::exception_ptr& error) {
    std::vector<std::uint16_t> half;
    try {
      for (std::size_t j = t; j < n; j += workers) read_one(file_indices[j], out + j * per_sample_, half);
    } catch (...) {
      error = std::current_exception();
    }
  };
  std::vector<std::exception_ptr> errors(std::max<std::size_t>(workers, 1));
  {
    std::vector<std::jthread> helpers;
    for (std::size_t t = 1; t < workers; ++t) helpers.emplace_back(part, t, std::ref(errors[t]));
    if (workers > 0) part(0, errors[0]);
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace cbednet::io
