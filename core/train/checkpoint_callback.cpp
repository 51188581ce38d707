#include "core/train/checkpoint_callback.hpp"

#include "core/parallel/grid.hpp"
#include "core/train/trainer.hpp"

namespace cbednet {

void CheckpointCallback::save(Trainer& trainer, const char* why) {
  const std::string path = writer_(trainer.state());
  if (!path.empty()) log_.line("  checkpoint ", path, " (", why, ")");
  check_mpi_call(MPI_Barrier(world_), "MPI_Barrier (checkpoint)");
}

void CheckpointCallback::after_step(Trainer& trainer, StepReport&) {
  const TrainingState& state = trainer.state();
  if (every_ > 0 && state.global_step % every_ == 0 && state.step_in_epoch < trainer.config().steps_per_epoch)
    save(trainer, "periodic");
}

void CheckpointCallback::on_epoch_end(Trainer& trainer, EpochRecord&) { save(trainer, "end of epoch"); }

void CheckpointCallback::on_stop(Trainer& trainer, StopReason reason) {
  save(trainer, reason == StopReason::max_steps ? "--max-steps reached" : "signal");
}

}  // namespace cbednet
