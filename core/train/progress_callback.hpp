// What a run tells the people watching it: a progress line every N steps (and at each epoch's last step), and
// one record per epoch in train.log, metrics.csv and metrics.jsonl (RunLog, rank 0).
#pragma once

#include <cstdint>

#include "core/train/callback.hpp"

namespace cbednet {

class ProgressCallback : public TrainingCallback {
 public:
  // every: steps between progress lines (0: none).
  ProgressCallback(std::int64_t every, RunLog& log) : every_(every), log_(log) {}

  void after_step(Trainer& trainer, StepReport& report) override;
  void on_epoch_end(Trainer& trainer, EpochRecord& record) override;

 private:
  std::int64_t every_;
  RunLog& log_;
};

}  // namespace cbednet
