// Wall-clock seconds for step timings and progress lines (the steady clock never jumps).
#pragma once

#include <chrono>

namespace cbednet {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace cbednet
