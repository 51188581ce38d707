#include "core/train/stop_callback.hpp"

#include "core/parallel/grid.hpp"
#include "core/train/trainer.hpp"

namespace cbednet {

void StopRequestCallback::after_step(Trainer& trainer, StepReport&) {
  int stop = requested_() ? 1 : 0;
  check_mpi_call(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, world_), "MPI_Allreduce (stop signal)");
  if (stop != 0) trainer.request_stop(StopReason::signal);
}

}  // namespace cbednet
