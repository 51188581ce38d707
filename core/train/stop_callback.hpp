// Stop requests (SIGTERM/SIGUSR1 on some rank: app/stop_signals.hpp) end the run after the same step on every
// rank: each step the ranks' flags are reduced over the world, and a raised one asks the trainer to stop (the
// checkpoint callback then writes a checkpoint).
#pragma once

#include <mpi.h>

#include <functional>

#include "core/train/callback.hpp"

namespace cbednet {

class StopRequestCallback : public TrainingCallback {
 public:
  // requested: this rank's flag (read once per step).
  StopRequestCallback(std::function<bool()> requested, MPI_Comm world)
      : requested_(std::move(requested)), world_(world) {}

  void after_step(Trainer& trainer, StepReport& report) override;

 private:
  std::function<bool()> requested_;
  MPI_Comm world_;
};

}  // namespace cbednet
