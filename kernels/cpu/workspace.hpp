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
  std::vector<T> col;  // [C*R*S, nb*P*Q]
  std::vector<T> tmp;  // [K, nb*P*Q]

  // Threads for a loop of `work` independent items (1 when too small to be worth a team).
  int team(std::int64_t work = 1 << 30) const {
    const int t = threads > 0 ? threads : omp_get_max_threads();
    return work >= 2 ? (work < t ? static_cast<int>(work) : t) : 1;
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
