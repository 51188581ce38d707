// Preemption: SIGTERM (Slurm's and LSF's notice before a kill) and SIGUSR1 (Slurm's --signal warning) ask a training
// run to stop. The handler only sets a flag; the training loop reduces the flags of all ranks with each step's
// statistics, so every rank stops after the same step, writes a checkpoint and exits with exit_code_preempted.
#pragma once

#include <csignal>

namespace cbednet::app {

// Installs the handlers for its lifetime (restoring the previous ones afterwards).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction previous_term_ {}, previous_usr1_ {};
};

bool stop_requested();
const char* stop_signal_name();  // "SIGTERM" / "SIGUSR1" (the first one received)

}  // namespace cbednet::app
