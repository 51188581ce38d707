#include "app/stop_signals.hpp"

#include <atomic>

namespace cbednet::app {

namespace {
std::atomic<int> received{0};  // lock-free, so safe to write from a signal handler

extern "C" void on_stop_signal(int signal_number) {
  int expected = 0;
  received.compare_exchange_strong(expected, signal_number);
}
}  // namespace

StopSignals::StopSignals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, &previous_term_);
  sigaction(SIGUSR1, &action, &previous_usr1_);
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &previous_term_, nullptr);
  sigaction(SIGUSR1, &previous_usr1_, nullptr);
}

bool stop_requested() { return received.load() != 0; }

const char* stop_signal_name() {
  switch (received.load()) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "no signal";
  }
}

}  // namespace cbednet::app
