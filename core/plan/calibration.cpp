#include "core/plan/calibration.hpp"

#include <cstdlib>
#include <sstream>

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
  return out;
}

}  // namespace cbednet::plan
