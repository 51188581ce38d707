// Preemption: SIGTERM (Slurm's and LSF's notice before a kill) and SIGUSR1 (Slurm's --signal warning) ask a training
// run to stop. The training loop reduces the flags of all ranks with each step's statistics, so every rank stops
// after the same step, writes a checkpoint and exits with exit_code_preempted.
//
// The two signals never interrupt the threads that compute, read or communicate: main blocks them before MPI,
// OpenMP or the loader start any thread (every thread inherits the mask), and one watcher thread takes them with
// sigwait(). A signal landing on an arbitrary thread interrupts whatever system call it is in; a 2-rank run
// stopped by SIGUSR1 aborted with glibc heap corruption about 1 run in 25 that way (docs/reliability.md).
#pragma once

namespace cbednet::app {

// Call first in main, before any thread exists. Outside a StopSignals scope a watched signal keeps its default
// action (the process ends), as if nothing were watching.
void watch_stop_signals();

// While one exists, SIGTERM and SIGUSR1 only set the stop flag.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

bool stop_requested();
const char* stop_signal_name();  // "SIGTERM" / "SIGUSR1" (the first one received)

}  // namespace cbednet::app
