// Progress of a long command (simulate, convert, evaluate, predict, bench) for the person or the batch log
// watching it: on a terminal a bar redrawn in place with rate and ETA; otherwise (Slurm/LSF output files) a plain
// line at most every `interval` seconds and one at the end. On stderr, so that what a command prints on stdout
// (JSON, tables) stays parseable. Only where enabled: world rank 0 without --quiet.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/stopwatch.hpp"

namespace cbednet {

// "1h02m" / "3m05s" (negative times read as zero): progress lines and ETAs.
std::string format_duration(double seconds);

class Progress {
 public:
  // what: "simulate", ...; unit: "materials", "samples", "steps"; total: how many there will be (0: unknown).
  Progress(std::string what, std::string unit, std::int64_t total, bool enabled, double interval = 10.0,
           std::FILE* out = stderr);
  ~Progress();  // finishes the bar (a newline on a terminal) if finish() was not called
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1);
  void set_total(std::int64_t total) { total_ = total; }  // once it is known
  void finish();                                          // the last line: total, elapsed time and rate

  // Whether this process should draw: world rank 0 (or no MPI) and not quiet.
  static bool wanted(bool quiet);

 private:
  void draw(bool last);

  std::string what_, unit_;
  std::int64_t total_, done_ = 0;
  bool enabled_, terminal_, finished_ = false;
  double interval_;
  std::FILE* out_;
  SteadyClock::time_point start_ = SteadyClock::now(), last_draw_ = start_;
};

}  // namespace cbednet
