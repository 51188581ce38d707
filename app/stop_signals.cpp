#include "app/stop_signals.hpp"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <thread>

namespace cbednet::app {

namespace {

std::atomic<int> received{0};
std::atomic<bool> armed{false};

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

[[noreturn]] void watch(sigset_t set) {
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (armed.load()) {
      int expected = 0;
      received.compare_exchange_strong(expected, signal_number);
      continue;
    }
    // Not training: the default action, which ends the process, on this thread alone unblocked.
    std::signal(signal_number, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signal_number);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    std::raise(signal_number);
  }
}

}  // namespace

void watch_stop_signals() {
  const sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch, set).detach();
}

StopSignals::StopSignals() { armed = true; }
StopSignals::~StopSignals() { armed = false; }

bool stop_requested() { return received.load() != 0; }

const char* stop_signal_name() {
  switch (received.load()) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "no signal";
  }
}

}  // namespace cbednet::app
