// Where a training run stands: what a checkpoint records besides the tensors, and all a resume needs (every
// random draw is keyed by counters, so the step counters are the whole state of the data order and dropout).
#pragma once

#include <cstdint>

namespace cbednet {

struct TrainingState {
  std::int64_t epoch = 0;          // epoch in progress (0-based)
  std::int64_t step_in_epoch = 0;  // steps of that epoch already taken
  std::int64_t global_step = 0;    // steps taken in total (skipped non-finite ones included)
  // Updates the optimizer applied (AdamW/LAMB bias correction counts them): global_step less the skipped steps.
  // Optional in the file (absent: global_step).
  std::int64_t optimizer_steps = 0;
  std::uint64_t seed = 0;
  // Running sums of the epoch in progress, so its reported metrics survive a resume.
  double epoch_loss_sum = 0;
  std::int64_t epoch_correct = 0;
  std::int64_t epoch_samples = 0;
  // Dynamic loss scaling (fp16): the scale for the next step and the finite steps in a row at it. Optional in
  // the file (absent: 1 and 0).
  double loss_scale = 1.0;
  std::int64_t loss_scale_good_steps = 0;
};

}  // namespace cbednet
