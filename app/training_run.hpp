// The training loop behind `cbednet train`: epochs of data-parallel steps over the MPI ranks, progress on rank 0,
// per-epoch validation, metrics files, checkpoints and exact resume.
#pragma once

#include <cstdint>
#include <string>

#include "app/run_setup.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/loss_scaler.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/optim/sgd.hpp"
#include "core/parallel/hybrid_trainer.hpp"

namespace cbednet::app {

enum class ClassWeighting { none, inverse, effective };
// What a step whose loss or gradients are NaN or infinite does: stop with a message naming the step and the first
// layer with a non-finite gradient, or skip the update and go on.
enum class NonFinitePolicy { stop, skip };
// Loss scaling (core/optim/loss_scaler.hpp): none, a fixed power of two, or dynamic (the default for fp16).
enum class LossScaling { none, fixed, dynamic };

// Exit code of a run stopped by SIGTERM or SIGUSR1 after writing a checkpoint (EX_TEMPFAIL): job scripts requeue.
inline constexpr int exit_code_preempted = 75;

struct TrainConfig {
  std::string data, train_split = "train", val_split = "dev", out;
  bool resume = false;
  std::int64_t epochs = 1, batch = 32, micro_batch = 0, max_steps = 0;
  std::uint64_t seed = 1;
  int pipeline_stages = 1, replicas = 1;
  ResNetSpec model;  // input size and channels come from the data
  BackendOptions backend;
  io::Preprocess preprocess;
  ViewMode views = ViewMode::stack;
  bool skip_bad = false;
  int io_threads = -1;  // packed files: direct chunk reads on this many threads (0: collective HDF5; -1: auto)
  SgdConfig sgd;
  LrSchedule schedule;            // total and warm-up steps filled in once the data is known
  double warmup_epochs = 0;
  std::vector<double> milestone_epochs;
  double label_smoothing = 0, effective_beta = 0.999, bn_momentum = 0.1;
  ClassWeighting class_weighting = ClassWeighting::none;
  std::int64_t checkpoint_every = 0;  // steps; 0: at the end of each epoch only
  int keep_checkpoints = 3;
  std::int64_t log_every = 10;
  NonFinitePolicy nonfinite = NonFinitePolicy::stop;
  LossScaling loss_scaling = LossScaling::none;
  LossScalerOptions loss_scaler;      // fixed: loss_scaler.initial is the scale
  HybridOptions hybrid;               // schedule, balancing, bucket size (micro-batch size: above)
  std::string resolved_ini;           // recorded in the run directory and checkpoints
};

// Runs (or resumes) training; returns the process exit code.
int run_training(const TrainConfig& config);

// Per-class loss weights from the training labels (class c = space group c + 1), normalised so that their mean
// over the training samples is 1. Classes without samples get weight 1.
std::vector<double> class_weights(const std::vector<std::int16_t>& labels, int classes, ClassWeighting scheme,
                                  double beta);

}  // namespace cbednet::app
