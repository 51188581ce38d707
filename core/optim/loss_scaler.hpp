// Dynamic loss scaling for fp16 mixed precision (Micikevicius et al. 2018; the policy of PyTorch's GradScaler):
// the loss gradient is multiplied by a scale S before backward, so small fp16 gradients do not flush to zero,
// and the optimizer divides by S. A step whose gradients overflow (NaN/Inf anywhere) is not applied and S is
// halved; after `interval` finite steps in a row S doubles. With S a power of two the scaling is exact in binary
// floating point: training with and without it is bit for bit the same while nothing overflows or underflows.
#pragma once

#include <cstdint>

namespace cbednet {

struct LossScalerOptions {
  double initial = 65536.0;  // 2^16
  double growth = 2.0;
  double backoff = 0.5;
  std::int64_t interval = 2000;   // finite steps in a row before growing
  double min_scale = 1.0;         // an overflow at this scale is a real non-finite step, not a scale problem
  double max_scale = 16777216.0;  // 2^24
};

class DynamicLossScaler {
 public:
  explicit DynamicLossScaler(LossScalerOptions options = {});

  double scale() const { return scale_; }
  std::int64_t good_steps() const { return good_steps_; }
  const LossScalerOptions& options() const { return options_; }

  // After a step whose gradients were (non)finite, for the next step. Returns whether the finite/non-finite
  // outcome is the scale's doing: false for a non-finite step at min_scale (the caller's policy decides).
  bool update(bool nonfinite);
  // State from a checkpoint (scale, finite steps in a row).
  void restore(double scale, std::int64_t good_steps);

 private:
  LossScalerOptions options_;
  double scale_;
  std::int64_t good_steps_ = 0;
};

}  // namespace cbednet
