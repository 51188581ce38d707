#include "core/progress.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace cbednet {

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

bool Progress::wanted(bool quiet) {
  if (quiet) return false;
  int initialised = 0, rank = 0;
  MPI_Initialized(&initialised);
  if (initialised != 0) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

Progress::Progress(std::string what, std::string unit, std::int64_t total, bool enabled, double interval,
                   std::FILE* out)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      terminal_(enabled && ::isatty(::fileno(out)) != 0),
      interval_(interval),
      out_(out) {}

Progress::~Progress() {
  if (enabled_ && !finished_ && terminal_ && done_ > 0) std::fputc('\n', out_);
}

void Progress::advance(std::int64_t n) {
  done_ += n;
  if (!enabled_) return;
  // A terminal redraws often (cheap, in place); a log file gets a line per interval.
  const double wait = terminal_ ? 0.2 : interval_;
  if (seconds_since(last_draw_) >= wait) draw(false);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool last) {
  last_draw_ = SteadyClock::now();
  const double elapsed = seconds_since(start_);
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : 0.0;
  char line[256];
  if (last) {
    std::snprintf(line, sizeof line, "%s: %lld %s in %s (%.1f %s/s)", what_.c_str(), static_cast<long long>(done_),
                  unit_.c_str(), format_duration(elapsed).c_str(), rate, unit_.c_str());
  } else if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    constexpr int width = 24;
    char bar[width + 4] = "";  // "[###.....] " on a terminal
    if (terminal_) {
      const int full = static_cast<int>(std::floor(fraction * width));
      bar[0] = '[';
      for (int i = 0; i < width; ++i) bar[1 + i] = i < full ? '#' : '.';
      bar[width + 1] = ']';
      bar[width + 2] = ' ';
      bar[width + 3] = '\0';
    }
    std::snprintf(line, sizeof line, "%s: %s%lld/%lld %s (%3.0f%%) | %.1f %s/s | ETA %s", what_.c_str(), bar,
                  static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), 100.0 * fraction, rate,
                  unit_.c_str(), format_duration(eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "%s: %lld %s | %.1f %s/s", what_.c_str(), static_cast<long long>(done_),
                  unit_.c_str(), rate, unit_.c_str());
  }
  if (terminal_)
    std::fprintf(out_, "\r\033[K%s%s", line, last ? "\n" : "");
  else
    std::fprintf(out_, "%s\n", line);
  std::fflush(out_);
}

}  // namespace cbednet
