// A BatchSource over tensors in memory, for tests and for programs that generate their data: every epoch takes
// the samples in order, step t's global batch is samples [t*B, (t+1)*B) (the last partial batch is dropped, as
// training's loader does), and replica d of D gets the contiguous share [t*B + d*B/D, t*B + (d+1)*B/D). Samples
// marked bad are left out of their share (the --skip-bad behaviour of io's loader), so shares can come short.
#pragma once

#include <set>

#include "core/train/batch_source.hpp"

namespace cbednet {

class MemoryBatchSource : public BatchSource {
 public:
  // images: host f32 or f64 [N,C,H,W]; labels: host i32 [N,1,1,1]; global_batch B divisible by replicas.
  MemoryBatchSource(Tensor images, Tensor labels, std::int64_t global_batch, int replica = 0, int replicas = 1,
                    std::set<std::int64_t> bad = {});

  Shape sample_shape() const override;
  std::size_t steps_per_epoch() const override;
  void start_epoch(std::uint64_t epoch) override;
  std::optional<Batch> next() override;

 private:
  Tensor images_, labels_;
  std::int64_t global_batch_, share_, replica_;
  std::set<std::int64_t> bad_;
  std::uint64_t epoch_ = 0;
  std::size_t step_ = 0;
};

}  // namespace cbednet
