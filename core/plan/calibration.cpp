#include "core/plan/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "core/error.hpp"

namespace cbednet::plan {

namespace {

// Position just after `"key":` and any blanks, or npos.
std::size_t value_position(const std::string& line, const std::string& key) {
  const std::string quoted = "\"" + key + "\"";
  auto pos = line.find(quoted);
  if (pos == std::string::npos) return pos;
  pos = line.find(':', pos + quoted.size());
  if (pos == std::string::npos) return pos;
  return line.find_first_not_of(" \t", pos + 1);
}

}  // namespace

std::optional<double> json_number(const std::string& line, const std::string& key) {
  const auto pos = value_position(line, key);
  if (pos == std::string::npos) return std::nullopt;
  const char* begin = line.c_str() + pos;
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin) return std::nullopt;
  return v;
}

std::optional<std::string> json_string(const std::string& line, const std::string& key) {
  const auto pos = value_position(line, key);
  if (pos == std::string::npos || line[pos] != '"') return std::nullopt;
  const auto close = line.find('"', pos + 1);
  if (close == std::string::npos) return std::nullopt;
  return line.substr(pos + 1, close - pos - 1);
}

std::optional<std::vector<double>> json_number_array(const std::string& line, const std::string& key) {
  auto pos = value_position(line, key);
  if (pos == std::string::npos || line[pos] != '[') return std::nullopt;
  std::vector<double> out;
  ++pos;
  while (true) {
    pos = line.find_first_not_of(" \t", pos);
    if (pos == std::string::npos) return std::nullopt;
    if (line[pos] == ']') return out;
    const char* begin = line.c_str() + pos;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin) return std::nullopt;
    out.push_back(v);
    pos = line.find_first_not_of(" \t", pos + static_cast<std::size_t>(end - begin));
    if (pos == std::string::npos) return std::nullopt;
    if (line[pos] == ',')
      ++pos;
    else if (line[pos] != ']')
      return std::nullopt;
  }
}

MeasuredBlocks parse_block_times(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (json_string(line, "benchmark").value_or("") != "block_times") continue;
    MeasuredBlocks m;
    m.arch = json_string(line, "arch").value_or("");
    m.device = json_string(line, "device").value_or("");
    m.size = static_cast<std::int64_t>(json_number(line, "size").value_or(0.0));
    m.micro_batch = static_cast<std::int64_t>(json_number(line, "micro_batch").value_or(0.0));
    const auto forward = json_number_array(line, "forward_ms");
    const auto backward = json_number_array(line, "backward_ms");
    CBEDNET_REQUIRE(
        forward && backward && !forward->empty() && forward->size() == backward->size() && m.micro_batch >= 1,
        InvalidArgument, source,
        ": a block_times line needs micro_batch >= 1 and forward_ms and backward_ms arrays of one length: ", line);
    for (const auto* v : {&*forward, &*backward}) {
      for (const double ms : *v) {
        CBEDNET_REQUIRE(std::isfinite(ms) && ms >= 0.0, InvalidArgument, source, ": block time ", ms,
                        " ms is negative or not finite: ", line);
      }
    }
    for (const double ms : *forward) m.forward_s.push_back(ms * 1e-3);
    for (const double ms : *backward) m.backward_s.push_back(ms * 1e-3);
    return m;
  }
  throw_error<InvalidArgument>(source,
                               ": no \"benchmark\": \"block_times\" line (write one with `cbednet bench "
                               "--block-times`)");
}

BenchPoint parse_bench_line(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto ms = json_number(line, "ms_per_step");
    if (!ms) continue;
    BenchPoint p;
    p.ms_per_step = *ms;
    p.arch = json_string(line, "arch").value_or("");
    p.size = static_cast<std::int64_t>(json_number(line, "size").value_or(0.0));
    p.batch = static_cast<std::int64_t>(json_number(line, "batch").value_or(0.0));
    p.micro_batch = static_cast<std::int64_t>(json_number(line, "micro_batch").value_or(static_cast<double>(p.batch)));
    CBEDNET_REQUIRE(p.ms_per_step > 0.0 && p.batch > 0 && p.micro_batch > 0 && p.batch % p.micro_batch == 0,
                    InvalidArgument, source,
                    ": bench line needs positive ms_per_step, batch and micro_batch "
                    "(micro_batch dividing batch): ",
                    line);
    return p;
  }
  throw_error<InvalidArgument>(source, ": no `cbednet bench` JSON line (with \"ms_per_step\") found");
}

Link parse_network_link(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (json_string(line, "benchmark").value_or("") != "network_link") continue;
    const auto latency_us = json_number(line, "latency_us");
    const auto gbps = json_number(line, "gbps");
    CBEDNET_REQUIRE(latency_us && gbps && *latency_us >= 0.0 && *gbps > 0.0, InvalidArgument, source,
                    ": network_link line needs latency_us >= 0 and gbps > 0: ", line);
    return Link{*latency_us * 1e-6, *gbps * 1e9 / 8.0};
  }
  throw_error<InvalidArgument>(source, ": no \"network_link\" line (from `cbednet bench --network`) found");
}

std::optional<AllreduceFit> parse_allreduce_fit(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  std::vector<std::pair<double, double>> points;  // bytes, seconds
  int ranks = 0;
  while (std::getline(in, line)) {
    if (json_string(line, "benchmark").value_or("") != "network_allreduce") continue;
    const auto bytes = json_number(line, "bytes");
    const auto us = json_number(line, "us");
    const auto r = json_number(line, "ranks");
    CBEDNET_REQUIRE(bytes && us && r && *us > 0.0 && *r >= 2.0, InvalidArgument, source,
                    ": network_allreduce line needs bytes, us > 0 and ranks >= 2: ", line);
    CBEDNET_REQUIRE(ranks == 0 || ranks == static_cast<int>(*r), InvalidArgument, source,
                    ": network_allreduce lines of different rank counts (", ranks, " and ", *r, ")");
    ranks = static_cast<int>(*r);
    if (*bytes >= 65536.0) points.emplace_back(*bytes, *us * 1e-6);
  }
  if (points.size() < 2) return std::nullopt;
  double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
  for (const auto& [x, y] : points) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double n = static_cast<double>(points.size());
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  CBEDNET_REQUIRE(slope > 0.0, InvalidArgument, source,
                  ": network_allreduce times do not grow with the size; cannot fit a bandwidth");
  AllreduceFit fit;
  fit.ranks = ranks;
  fit.fixed_s = std::max(0.0, (sy - slope * sx) / n);
  fit.bytes_per_s = 1.0 / slope;
  return fit;
}

Device calibrate(const Device& device, const std::vector<BlockInfo>& blocks, const BenchPoint& point) {
  CBEDNET_REQUIRE(point.ms_per_step > 0.0 && point.micro_batch > 0 && point.batch % point.micro_batch == 0,
                  InvalidArgument, "bench point: ms_per_step ", point.ms_per_step, ", batch ", point.batch,
                  ", micro_batch ", point.micro_batch);
  double macs = 0.0;
  for (const auto& b : blocks) macs += static_cast<double>(b.cost.forward_macs);
  const double micro_batches = static_cast<double>(point.batch / point.micro_batch);
  const double measured = point.ms_per_step * 1e-3;
  Device out = device;
  double overhead = micro_batches * static_cast<double>(blocks.size()) * device.block_overhead_s;
  if (overhead >= measured) {
    out.block_overhead_s = 0.0;
    overhead = 0.0;
  }
  out.train_flop_per_s = 6.0 * macs * static_cast<double>(point.batch) / (measured - overhead);
  if (!device.measured_forward_s.empty()) {
    // Measured block times keep their proportions and take the step's rate: a block timed alone (the minimum of
    // a few runs) misses what a whole step pays (a shared or throttled core, caches), which the step measures.
    CBEDNET_REQUIRE(device.measured_micro_batch >= 1, InvalidArgument, "measured block times: micro-batch ",
                    device.measured_micro_batch);
    double per_micro_batch = 0.0;
    for (std::size_t i = 0; i < device.measured_forward_s.size(); ++i)
      per_micro_batch += device.measured_forward_s[i] + device.measured_backward_s[i];
    per_micro_batch *= static_cast<double>(point.micro_batch) / static_cast<double>(device.measured_micro_batch);
    CBEDNET_REQUIRE(per_micro_batch > 0.0, InvalidArgument, "measured block times: all zero");
    const double scale = measured / (micro_batches * per_micro_batch);
    for (double& t : out.measured_forward_s) t *= scale;
    for (double& t : out.measured_backward_s) t *= scale;
  }
  return out;
}

}  // namespace cbednet::plan
