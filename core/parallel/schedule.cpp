#include "core/parallel/schedule.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace cbednet {

PipelineSchedule parse_schedule(const std::string& text) {
  if (text == "1f1b") return PipelineSchedule::one_f_one_b;
  if (text == "gpipe") return PipelineSchedule::gpipe;
  throw_error<InvalidArgument>("--schedule '", text, "': expected 1f1b or gpipe");
}

std::string to_string(PipelineSchedule schedule) { return schedule == PipelineSchedule::gpipe ? "gpipe" : "1f1b"; }

std::vector<PipeOp> pipeline_schedule(PipelineSchedule schedule, int stages, int micro_batches, int stage) {
  if (stages < 1 || micro_batches < 1 || stage < 0 || stage >= stages)
    throw_error<InvalidArgument>("pipeline schedule: stage ", stage, " of ", stages, " stages with ", micro_batches,
                                 " micro-batches is invalid");
  using K = PipeOp::Kind;
  std::vector<PipeOp> ops;
  ops.reserve(2 * static_cast<std::size_t>(micro_batches));
  if (schedule == PipelineSchedule::gpipe) {
    for (int i = 0; i < micro_batches; ++i) ops.push_back({K::forward, i});
    for (int i = micro_batches; i-- > 0;) ops.push_back({K::backward, i});
    return ops;
  }
  const int warmup = std::min(stages - stage - 1, micro_batches);
  for (int i = 0; i < warmup; ++i) ops.push_back({K::forward, i});
  const int steady = micro_batches - warmup;
  for (int i = 0; i < steady; ++i) {
    ops.push_back({K::forward, warmup + i});
    ops.push_back({K::backward, i});
  }
  for (int i = steady; i < micro_batches; ++i) ops.push_back({K::backward, i});
  return ops;
}

int peak_live_activations(const std::vector<PipeOp>& ops) {
  int live = 0, peak = 0;
  for (const auto& op : ops) {
    live += op.kind == PipeOp::Kind::forward ? 1 : -1;
    peak = std::max(peak, live);
  }
  return peak;
}

double theoretical_bubble(int stages, int micro_batches) {
  return static_cast<double>(stages - 1) / static_cast<double>(micro_batches + stages - 1);
}

}  // namespace cbednet
