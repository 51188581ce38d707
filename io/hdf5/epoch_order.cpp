#include "io/hdf5/epoch_order.hpp"

#include <algorithm>
#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace cbednet::io {

std::vector<std::int64_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, bool shuffle) {
  std::vector<std::int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  if (!shuffle) return perm;
  const RandomStream rng(seed, RngPurpose::shuffle);
  for (std::size_t p = n; p > 1; --p) {
    const auto j = static_cast<std::size_t>(rng.below(p, epoch, p - 1));
    std::swap(perm[p - 1], perm[j]);
  }
  return perm;
}

std::size_t steps_per_epoch(std::size_t n, std::size_t global_batch, bool drop_last) {
  CBEDNET_REQUIRE(global_batch > 0, InvalidArgument, "global batch size must be positive");
  return drop_last ? n / global_batch : (n + global_batch - 1) / global_batch;
}

std::pair<std::size_t, std::size_t> replica_share(std::size_t n, std::size_t global_batch, std::size_t step, int d,
                                                  int D) {
  const std::size_t first = std::min(n, step * global_batch);
  const std::size_t b = std::min(n, first + global_batch) - first;
  const auto dd = static_cast<std::size_t>(d), DD = static_cast<std::size_t>(D);
  return {first + dd * b / DD, first + (dd + 1) * b / DD};
}

}  // namespace cbednet::io
