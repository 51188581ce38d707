// When a run writes checkpoints: every N steps (--checkpoint-every, not at an epoch's end), at the end of every
// epoch, and when the run stops early (a signal, --max-steps), so that --resume continues exactly. How one is
// written (gathering the stages' tensors, HDF5, pruning old ones) is the writer's: app/training_run.cpp passes
// one built on io/checkpoint; tests pass their own.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/train/callback.hpp"
#include "core/train/training_state.hpp"

namespace cbednet {

// Collective over the world: writes a checkpoint of the current parameters and `state`; returns its path on the
// rank that wrote it and an empty string elsewhere.
using CheckpointWriter = std::function<std::string(const TrainingState& state)>;

class CheckpointCallback : public TrainingCallback {
 public:
  // every: steps between periodic checkpoints (0: at the end of each epoch only).
  CheckpointCallback(std::int64_t every, CheckpointWriter writer, RunLog& log, MPI_Comm world)
      : every_(every), writer_(std::move(writer)), log_(log), world_(world) {}

  void after_step(Trainer& trainer, StepReport& report) override;
  void on_epoch_end(Trainer& trainer, EpochRecord& record) override;
  void on_stop(Trainer& trainer, StopReason reason) override;

 private:
  void save(Trainer& trainer, const char* why);

  std::int64_t every_;
  CheckpointWriter writer_;
  RunLog& log_;
  MPI_Comm world_;
};

}  // namespace cbednet
