// The one rule for cutting a global batch: B samples over D data-parallel replicas (each takes the contiguous share
// B/D) and each share into micro-batches of m samples. Checked here only; the trainer, the hybrid step, the
// benchmark and the planner all ask this function.
#pragma once

#include <cstdint>

namespace cbednet {

struct BatchSplit {
  std::int64_t global = 0;         // B
  std::int64_t replicas = 1;       // D
  std::int64_t share = 0;          // B / D
  std::int64_t micro = 0;          // m
  std::int64_t micro_batches = 0;  // M = share / m per replica
};

// micro_batch 0: a replica's whole share. stages (P) only names the grid in messages. Throws InvalidArgument naming
// --batch, --grid or --micro-batch-size.
BatchSplit split_batch(std::int64_t global_batch, std::int64_t replicas, std::int64_t micro_batch, int stages = 1);

}  // namespace cbednet
