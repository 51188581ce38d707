#include "io/hdf5/epoch_order.hpp"

#include <algorithm>
#include <map>
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

std::vector<std::int64_t> grouped_epoch_permutation(const std::vector<std::uint32_t>& file_of, std::size_t group_files,
                                                    std::uint64_t seed, std::uint64_t epoch) {
  CBEDNET_REQUIRE(group_files > 0, InvalidArgument, "--shuffle-files: a group must hold at least one file");
  std::map<std::uint32_t, std::vector<std::int64_t>> by_file;  // ordered by file id: the order is the ids'
  for (std::size_t i = 0; i < file_of.size(); ++i) by_file[file_of[i]].push_back(static_cast<std::int64_t>(i));
  std::vector<const std::vector<std::int64_t>*> files;
  for (const auto& [id, samples] : by_file) files.push_back(&samples);
  const RandomStream file_rng(seed, RngPurpose::shuffle, 1), sample_rng(seed, RngPurpose::shuffle, 2);
  for (std::size_t p = files.size(); p > 1; --p)
    std::swap(files[p - 1], files[static_cast<std::size_t>(file_rng.below(p, epoch, p - 1))]);
  std::vector<std::int64_t> perm;
  perm.reserve(file_of.size());
  for (std::size_t first = 0; first < files.size(); first += group_files) {
    const std::size_t begin = perm.size();
    for (std::size_t f = first; f < std::min(files.size(), first + group_files); ++f)
      perm.insert(perm.end(), files[f]->begin(), files[f]->end());
    for (std::size_t p = perm.size() - begin; p > 1; --p)  // positions are global: no two groups share a draw
      std::swap(perm[begin + p - 1], perm[begin + static_cast<std::size_t>(sample_rng.below(p, epoch, begin + p - 1))]);
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
