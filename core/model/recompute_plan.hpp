// --recompute auto: which blocks of a pipeline stage recompute their forward in backward (stage.hpp) so that the
// activations the stage keeps between forward and backward fit a memory budget, recomputing as little as possible.
//
// A block that keeps its state holds cost.saved_elements per sample (block.hpp); a recomputed one holds only its
// input. The stage holds `in_flight` micro-batches of `micro` samples at once (1F1B: min(P - s, m) on stage s of P,
// GPipe: all m), each element `element_bytes`. Blocks are switched to recomputation in the order of the memory they
// free, largest first, until the total fits. The transient state of the one block being recomputed during backward
// and the weights, gradients and optimizer state are not counted: the budget is for kept activations.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/model.hpp"

namespace cbednet {

struct RecomputePlan {
  std::vector<char> recompute;  // per block of [first, last)
  double kept_bytes = 0;        // activations kept with this choice
  double none_bytes = 0;        // ... with no recomputation
};

// Throws InvalidArgument naming --activation-memory-gb when even recomputing every block does not fit (the block
// inputs alone exceed the budget), with the bytes that would be needed.
RecomputePlan plan_recompute(const Model& model, std::size_t first, std::size_t last, std::int64_t micro,
                             std::int64_t in_flight, double element_bytes, double budget_bytes);

}  // namespace cbednet
