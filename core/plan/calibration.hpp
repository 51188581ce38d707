// Fits the planner's device rate to a measured single-rank step (a `cbednet bench` JSON line), so that plans
// for a CPU cluster or another GPU start from what the machine really does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/plan/planner.hpp"

namespace cbednet::plan {

struct BenchPoint {
  std::string arch;
  std::int64_t size = 0, batch = 0, micro_batch = 0;
  double ms_per_step = 0.0;
};

// The number after "key": in one JSON object line (flat objects as `cbednet bench` prints); nothing if absent.
std::optional<double> json_number(const std::string& line, const std::string& key);
std::optional<std::string> json_string(const std::string& line, const std::string& key);

// Reads the first line of `text` that has "ms_per_step" (throws InvalidArgument naming `source` otherwise).
BenchPoint parse_bench_line(const std::string& text, const std::string& source);

// The link between nodes measured by `cbednet bench --network`: its first "network_link" line's one-way latency
// and bandwidth (throws InvalidArgument naming `source` when there is none or a value is not positive).
Link parse_network_link(const std::string& text, const std::string& source);

// The allreduce between nodes measured by `cbednet bench --network`: a least-squares fit of time = fixed +
// bytes / bandwidth to its "network_allreduce" lines of at least 64 KiB (fixed clamped at 0); nothing when there
// are fewer than two such lines. Throws InvalidArgument naming `source` when the lines disagree on the rank count.
std::optional<AllreduceFit> parse_allreduce_fit(const std::string& text, const std::string& source);

// Per-block times measured by `cbednet bench --block-times`: its first "block_times" line (throws InvalidArgument
// naming `source` when there is none, the arrays differ in length, or a time is negative or not finite).
struct MeasuredBlocks {
  std::string arch, device;
  std::int64_t size = 0, micro_batch = 0;
  std::vector<double> forward_s, backward_s;
};
MeasuredBlocks parse_block_times(const std::string& text, const std::string& source);

// The numbers of a flat JSON array after "key": in one line; nothing if absent or not an array of numbers.
std::optional<std::vector<double>> json_number_array(const std::string& line, const std::string& key);

// The device with train_flop_per_s chosen so that predict() of one GPU at the point's batch and micro-batch
// gives its measured step time, keeping block_overhead_s (dropped to 0 when it alone exceeds the measurement).
// With measured block times (Device::measured_*), those are scaled by one factor instead, so that they sum to the
// measured step: their proportions say which blocks are slow, the step says how fast the device runs.
Device calibrate(const Device& device, const std::vector<BlockInfo>& blocks, const BenchPoint& point);

}  // namespace cbednet::plan
