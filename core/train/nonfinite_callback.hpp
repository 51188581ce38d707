// What a step whose loss or gradients are NaN or infinite does (the step itself is never applied: HybridTrainer):
// stop the run with a message naming the step and the first parameter with a non-finite gradient, or skip it and
// go on. Steps the loss scaler answers for (StepReport::overflow) are not this policy's.
#pragma once

#include <cstdint>

#include "core/train/callback.hpp"

namespace cbednet {

enum class NonFinitePolicy { stop, skip };

class NonFiniteCallback : public TrainingCallback {
 public:
  NonFiniteCallback(NonFinitePolicy policy, RunLog& log) : policy_(policy), log_(log) {}

  void after_step(Trainer& trainer, StepReport& report) override;
  void on_train_end(Trainer& trainer) override;
  std::int64_t skipped_steps() const { return skipped_; }

 private:
  NonFinitePolicy policy_;
  RunLog& log_;
  std::int64_t skipped_ = 0;
};

}  // namespace cbednet
