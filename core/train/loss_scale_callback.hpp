// Loss scaling as the run's state: the scale each step runs with lives in TrainingState (so checkpoints carry it);
// under dynamic scaling (core/optim/loss_scaler.hpp) an overflow is the scale's doing: the step was not applied and
// the scale halves. Only at the minimum scale is a non-finite step left to NonFiniteCallback.
#pragma once

#include <cstdint>
#include <optional>

#include "core/optim/loss_scaler.hpp"
#include "core/train/callback.hpp"

namespace cbednet {

// none, a fixed power of two (options.initial), or dynamic (the default for fp16).
enum class LossScaling { none, fixed, dynamic };

class LossScaleCallback : public TrainingCallback {
 public:
  // resumed: continue dynamic scaling from the state's scale and good steps (a checkpoint's); otherwise start at
  // options.initial.
  LossScaleCallback(LossScaling mode, LossScalerOptions options, bool resumed, RunLog& log);

  void on_train_begin(Trainer& trainer) override;
  void after_step(Trainer& trainer, StepReport& report) override;
  void on_train_end(Trainer& trainer) override;

 private:
  void record(Trainer& trainer) const;  // the next step's scale into the state

  LossScaling mode_;
  LossScalerOptions options_;
  bool resumed_;
  RunLog& log_;
  std::optional<DynamicLossScaler> scaler_;
  std::int64_t overflow_steps_ = 0;
};

}  // namespace cbednet
