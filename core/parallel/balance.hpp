// Pipeline balancing: cut a model's blocks into P contiguous stages so that the slowest stage is as fast as
// possible (exact min-max linear partition by dynamic programming, O(P n^2) for n blocks).
//
// Weights are per block: forward MACs (the default; Model::info() costs, proportional to training FLOPs) or
// measured forward+backward seconds on the backend (--balance time). Parameter counts are a poor proxy for
// ResNets (docs/parallel.md), so they are not offered.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model.hpp"

namespace cbednet {

enum class BalanceBy { macs, time };
BalanceBy parse_balance(const std::string& text);  // "macs" | "time"; InvalidArgument naming --balance

struct Partition {
  std::vector<std::size_t> cuts;     // P + 1 block indices: stage s holds blocks [cuts[s], cuts[s+1])
  std::vector<double> stage_weight;  // sum of block weights per stage
  double max_over_ideal = 1.0;       // slowest stage / (total / P): the balance loss (1 = perfect)
};

// Exact contiguous partition of `weights` into `stages` non-empty parts minimising the largest part sum.
// Ties are broken towards earlier cuts. Throws InvalidArgument naming --grid when stages exceeds the number
// of blocks, and for negative weights.
Partition partition_blocks(const std::vector<double>& weights, int stages);

// Per-block forward MACs of the model (per sample).
std::vector<double> block_macs(const Model& model);

// Per-block forward + backward seconds of micro-batches of `micro_batch` samples on `backend` (the minimum
// over `repeats` runs after one warm-up), measured on a model freshly built from `spec` so that no existing
// model's parameter bindings are disturbed. Needs memory for the whole model on this rank.
std::vector<double> measure_block_times(Backend& backend, const ResNetSpec& spec, std::int64_t micro_batch,
                                        std::uint64_t seed, int repeats = 2);

}  // namespace cbednet
