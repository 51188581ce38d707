// What the training loop reads from: batches of host images and labels, epoch by epoch. Core defines it and io's
// DistributedLoader implements it (io/hdf5/loader.hpp), so the loop in core/train does not depend on io; tests and
// benchmarks use MemoryBatchSource (memory_batch_source.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.hpp"

namespace cbednet {

struct Batch {
  Tensor images;                      // f32 host [b, C, H, W]
  Tensor labels;                      // i32 host [b, 1, 1, 1], class = space_group - 1
  std::vector<std::int64_t> indices;  // source sample indices (0 .. size()-1) of the b samples
  std::uint64_t epoch = 0;
  std::size_t step = 0;
  std::size_t skipped = 0;  // samples of this share dropped as bad (--skip-bad)
};

// Collective where the implementation is (every rank of a loader's communicator calls the same sequence).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Shape sample_shape() const = 0;  // {1, C, H, W}
  virtual std::size_t steps_per_epoch() const = 0;
  // Begins epoch `epoch` (any order; resuming is start_epoch(saved) and skipping the steps already taken).
  virtual void start_epoch(std::uint64_t epoch) = 0;
  // This rank's share of the next step's batch, or nothing at the end of the epoch.
  virtual std::optional<Batch> next() = 0;
};

}  // namespace cbednet
