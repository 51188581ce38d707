// The training loop's extension points (LBANN's callbacks): checkpointing, the non-finite policy, loss scaling,
// progress and metrics, stop requests and validation are each a small TrainingCallback around one Trainer
// (trainer.hpp). Callbacks run in the order they were added, on every rank; any of them that communicates does so
// at the same hook on every rank.
#pragma once

#include <cstdint>

#include "core/model/train_step.hpp"
#include "core/train/run_log.hpp"

namespace cbednet {

class Trainer;

// Why Trainer::run returned.
enum class StopReason { finished, max_steps, signal };

// One step as the callbacks see it, after the trainer has counted it in its TrainingState.
struct StepReport {
  std::int64_t epoch = 0;  // 0-based epoch of the step
  std::int64_t step = 0;   // the step's global number, 1-based (== state().global_step now)
  double lr = 0;
  double loss_scale = 1;  // the scale the step ran with
  StepStats totals;       // statistics of the whole global batch (the same on every rank)
  bool overflow = false;  // set by LossScaleCallback: a non-finite step the loss scaler answers for
};

class TrainingCallback {
 public:
  virtual ~TrainingCallback() = default;
  // Before the first step of the run (after a resume: with the restored state).
  virtual void on_train_begin(Trainer&) {}
  // After each step. May throw (on every rank alike) or call Trainer::request_stop.
  virtual void after_step(Trainer&, StepReport&) {}
  // After an epoch's last step, with the state already at the next epoch. Earlier callbacks may fill in the
  // record (validation) for later ones (the metrics log).
  virtual void on_epoch_end(Trainer&, EpochRecord&) {}
  // The run stops before its last epoch ends (a stop request, --max-steps).
  virtual void on_stop(Trainer&, StopReason) {}
  // The run has trained every epoch.
  virtual void on_train_end(Trainer&) {}
};

}  // namespace cbednet
