// Pipeline balancing: cut a model's blocks into P contiguous stages so that the slowest stage is as fast as
// possible (exact min-max linear partition by dynamic programming, O(P n^2) for n blocks).
//
// Weights are per block: forward MACs (the default; Model::info() costs, proportional to training FLOPs) or
// measured forward+backward seconds on the backend (--balance time). Parameter counts are a poor proxy for
// ResNets (docs/parallel.md), so they are not offered. A block that recomputes its forward in backward
// (--recompute) costs its forward once more: a third more by MACs (8 instead of 6 FLOPs per MAC), its measured
// forward time more by --balance time. With --recompute auto the recomputed blocks depend on the cuts (each stage
// fits its own memory budget) and the cuts on them; partition_with_recompute iterates the two to a fixed point.
#pragma once

#include <cstdint>
#include <functional>
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

// What one block costs in a training step, split into its forward and its backward (any consistent unit).
struct BlockCosts {
  std::vector<double> forward, backward;
};
// From MACs: forward macs/3, backward 2 macs/3 (2 and 4 of a training step's 6 FLOPs per MAC), so that without
// recomputation a block weighs its forward MACs, as block_macs.
BlockCosts block_mac_costs(const Model& model);
// Training weight of each block: forward + backward, plus the forward again where recompute[b] != 0 (empty: none).
std::vector<double> training_weights(const BlockCosts& costs, const std::vector<char>& recompute);

// Which blocks of a candidate stage [first, last) (stage `stage`) recompute: --recompute auto's memory plan.
using RecomputeChooser = std::function<std::vector<char>(std::size_t first, std::size_t last, int stage)>;
// The cuts for --recompute auto: partition by the weights without recomputation, let each stage choose its
// recomputed blocks, partition again with those weights, and so on until the cuts repeat (at most 8 rounds); of
// the partitions seen, the one whose slowest stage, with its own recomputation, is fastest. Its stage_weight and
// max_over_ideal include recomputation; `recompute` (may be null) receives every block's flag.
Partition partition_with_recompute(const BlockCosts& costs, int stages, const RecomputeChooser& choose,
                                   std::vector<char>* recompute = nullptr);

// Per-block forward and backward seconds of micro-batches of `micro_batch` samples on `backend` (each the minimum,
// or the median, over `repeats` runs after one warm-up), measured on a model freshly built from `spec` so that no
// existing model's parameter bindings are disturbed. Needs memory for the whole model on this rank. The minimum
// suits a dedicated device (--balance time). On a shared or throttled core (`cbednet bench --block-times` on the
// namespace cluster's nodes) the minimum catches the runs that got a whole core, and the mean counts preemptions
// a running pipeline does not see as often; the median predicted the pipeline there (docs/cluster.md).
enum class BlockStatistic { minimum, median };
BlockCosts measure_block_times(Backend& backend, const ResNetSpec& spec, std::int64_t micro_batch, std::uint64_t seed,
                               int repeats = 2, BlockStatistic statistic = BlockStatistic::minimum);

}  // namespace cbednet
