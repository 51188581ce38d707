// Per-backend scratch state of the fast CPU kernels: thread count and the im2col / GEMM staging buffers,
// kept between calls so that a training step does not allocate (and page-fault) tens of MB per convolution.
#pragma once

#include <omp.h>

#include <cstdint>
#include <vector>

namespace cbednet::cpu {

template <typename T>
struct Workspace {
  int threads = 0;  // 0: OpenMP's default
  // Most elements of an im2col buffer; a convolution whose whole batch needs more runs in chunks of samples.
  // The chunking depends on shapes only, so results do not depend on the thread count.
  std::int64_t col_limit = std::int64_t{1} << 24;  // 64 MB of fp32
  std::vector<T> col;                              // [C*R*S, nb*P*Q]
  std::vector<T> tmp;                              // [K, nb*P*Q]

  // Most threads this backend uses.
  int team() const { return threads > 0 ? threads : omp_get_max_threads(); }
  // Threads for a loop over `items` independent items touching `elements` values in all: one below ~64K
  // values, where waking (and, on a busy node, waiting for) a team costs more than the loop.
  int team(std::int64_t items, std::int64_t elements) const {
    constexpr std::int64_t min_elements = std::int64_t{1} << 16;
    const int t = team();
    if (elements < min_elements || items < 2) return 1;
    return items < t ? static_cast<int>(items) : t;
  }
  T* col_buffer(std::int64_t n) {
    if (static_cast<std::int64_t>(col.size()) < n) col.resize(static_cast<std::size_t>(n));
    return col.data();
  }
  T* tmp_buffer(std::int64_t n) {
    if (static_cast<std::int64_t>(tmp.size()) < n) tmp.resize(static_cast<std::size_t>(n));
    return tmp.data();
  }
};

}  // namespace cbednet::cpu
