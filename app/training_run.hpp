// `cbednet train` after its options are parsed: opens the data, builds the model, the grid and the callbacks, and
// runs core/train's Trainer. The loop itself, and each thing that happens around a step, live in core/train/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/run_setup.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/loss_scaler.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/optim/optimizer.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "core/train/class_weights.hpp"
#include "core/train/loss_scale_callback.hpp"
#include "core/train/nonfinite_callback.hpp"

namespace cbednet::app {

// Exit code of a run stopped by SIGTERM or SIGUSR1 after writing a checkpoint (EX_TEMPFAIL): job scripts requeue.
inline constexpr int exit_code_preempted = 75;

struct TrainConfig {
  std::string data, train_split = "train", val_split = "dev", out;
  bool resume = false;
  std::string init_from;  // --init-from: start from this checkpoint's weights and architecture (fine-tuning)
  std::int64_t epochs = 1, batch = 32, micro_batch = 0, max_steps = 0;
  std::uint64_t seed = 1;
  int pipeline_stages = 1, replicas = 1;
  ResNetSpec model;  // input size and channels come from the data
  BackendOptions backend;
  io::Preprocess preprocess;
  io::Augment augment;                   // training loader only
  std::int64_t shuffle_group_files = 0;  // --shuffle-files
  ViewMode views = ViewMode::stack;
  bool skip_bad = false;
  int io_threads = -1;  // packed files: direct chunk reads on this many threads (0: collective HDF5; -1: auto)
  OptimizerConfig optimizer;
  LrSchedule schedule;  // total and warm-up steps filled in once the data is known
  double warmup_epochs = 0;
  std::vector<double> milestone_epochs;
  double label_smoothing = 0, effective_beta = 0.999, bn_momentum = 0.1;
  ClassWeighting class_weighting = ClassWeighting::none;
  std::int64_t checkpoint_every = 0;  // steps; 0: at the end of each epoch only
  int keep_checkpoints = 3;
  std::int64_t log_every = 10;
  bool quiet = false;           // --quiet: no progress lines (epoch records and the run's messages stay)
  std::string tensorboard_dir;  // TensorBoard event files (world rank 0); empty: none
  NonFinitePolicy nonfinite = NonFinitePolicy::stop;
  LossScaling loss_scaling = LossScaling::none;
  LossScalerOptions loss_scaler;    // fixed: loss_scaler.initial is the scale
  HybridOptions hybrid;             // schedule, balancing, bucket size (micro-batch size: above)
  double activation_memory_gb = 0;  // --recompute auto: the budget of kept activations per rank
  std::string resolved_ini;         // recorded in the run directory and checkpoints
};

// Runs (or resumes) training; returns the process exit code.
int run_training(const TrainConfig& config);

}  // namespace cbednet::app
