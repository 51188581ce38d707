// Trainer: the training run as a library. Epochs of steps over a BatchSource, each step one HybridTrainer::step
// (any P x D grid, serial included), the TrainingState counted exactly as checkpoints record it, and everything else
// (checkpoints, loss scaling, the non-finite policy, progress, stop requests, validation) in TrainingCallbacks.
// app/training_run.cpp builds the pieces from the command line; tests build them directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/batch_split.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "core/stopwatch.hpp"
#include "core/train/batch_source.hpp"
#include "core/train/callback.hpp"
#include "core/train/training_state.hpp"
#include "core/train/views.hpp"

namespace cbednet {

struct TrainerConfig {
  std::int64_t epochs = 1;
  std::int64_t steps_per_epoch = 1;  // the source's (every rank must know it; only stage 0 holds a source)
  std::int64_t max_steps = 0;        // stop after this many steps in total (0: no limit)
  std::uint64_t seed = 1;
  double bn_momentum = 0.1;
  ViewMode views = ViewMode::stack;
  LrSchedule schedule;  // resolved to steps
};

class Trainer {
 public:
  // source: this rank's share of each step's batch on stage-0 ranks (steps.reads_data()), nullptr elsewhere.
  // split: split_batch(B, D, m) for steps' grid. Everything is borrowed and must outlive the trainer.
  Trainer(HybridTrainer& steps, SoftmaxCrossEntropy& loss, Optimizer& optimizer, BatchSource* source, BatchSplit split,
          TrainerConfig config, TrainingState state);

  // Callbacks run in the order they were added (borrowed).
  void add(TrainingCallback& callback) { callbacks_.push_back(&callback); }
  // Trains from state() to the last epoch, or until a stop. Collective over the grid's world.
  StopReason run();
  // From a callback's after_step: stop once this step's callbacks have run (--max-steps takes precedence).
  void request_stop(StopReason reason) { stop_ = reason; }

  TrainingState& state() { return state_; }
  const TrainerConfig& config() const { return config_; }
  const BatchSplit& split() const { return split_; }
  HybridTrainer& steps() { return steps_; }
  // Mean seconds per step of this run so far (0 before the first).
  double seconds_per_step() const;
  // Samples of this rank's shares that --skip-bad dropped and the trainer filled with repeats (fill_short_share).
  std::int64_t repeated_samples() const { return repeated_; }

 private:
  void take_step(std::int64_t epoch);
  void end_epoch(std::int64_t epoch, double seconds);

  HybridTrainer& steps_;
  SoftmaxCrossEntropy& loss_;
  Optimizer& optimizer_;
  BatchSource* source_;
  BatchSplit split_;
  TrainerConfig config_;
  TrainingState state_;
  std::vector<TrainingCallback*> callbacks_;
  std::optional<StopReason> stop_;
  SteadyClock::time_point run_start_;
  std::int64_t steps_this_run_ = 0, epoch_images_ = 0, repeated_ = 0;
};

// A share that lost bad samples (--skip-bad) is filled back to `share` samples by repeating its good ones in order
// (sample k of the fill is good sample k mod kept), so that every replica and stage keeps the grid's fixed micro-
// batches; the loss stays normalised by the global batch. Returns how many samples were repeated. Throws naming
// the step when no sample of the share was good.
std::int64_t fill_short_share(Batch& batch, std::int64_t share);

}  // namespace cbednet
