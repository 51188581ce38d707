// The global sample order of an epoch and each replica's share of a step, independent of the rank count.
//
// perm = Fisher-Yates over [0, n) whose swap at position p of epoch e draws RandomStream(seed, shuffle) at
// (e, p): every rank computes the same permutation. Step t's global batch is perm[t*B, min((t+1)*B, n)), and
// replica d of D takes the contiguous part [d*b/D, (d+1)*b/D) of its b samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace cbednet::io {

std::vector<std::int64_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, bool shuffle);
// The order for a source of many files (an SMC directory): its files in a shuffled order (the same Fisher-Yates,
// its own stream), cut into groups of `group_files` consecutive files, and the samples of each group shuffled among
// themselves. A step then reads from the files of one or two groups however many files the source has, instead of
// opening nearly one file per sample. file_of[i] is sample i's file (any ids). The same for every rank count.
std::vector<std::int64_t> grouped_epoch_permutation(const std::vector<std::uint32_t>& file_of, std::size_t group_files,
                                                    std::uint64_t seed, std::uint64_t epoch);
// Steps per epoch: floor(n/B) with drop_last, else ceil(n/B).
std::size_t steps_per_epoch(std::size_t n, std::size_t global_batch, bool drop_last);
// [begin, end) positions in perm of replica d's share of step t.
std::pair<std::size_t, std::size_t> replica_share(std::size_t n, std::size_t global_batch, std::size_t step, int d,
                                                  int D);

}  // namespace cbednet::io
