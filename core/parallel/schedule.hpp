// Pipeline schedules as pure functions: the ordered operations one stage runs in one training step.
//
// Implied communication (the executor does it):
//   forward  i on stage s > 0      receives micro-batch i's activation from s-1
//   forward  i on stage s < P-1    sends its output to s+1
//   backward i on stage s < P-1    receives the gradient of its output from s+1
//   backward i on stage s > 0      sends the gradient of its input to s-1
//
// 1F1B (PipeDream-Flush, synchronous): min(P-s-1, M) warm-up forwards, then one forward / one backward in
//   turn, then the remaining backwards; at most min(P-s, M) micro-batches hold activations on stage s.
// GPipe: every forward, then every backward (last micro-batch first, as autograd over the concatenated
//   batch would); M micro-batches of activations live at the peak.
// Both run the same arithmetic per micro-batch, so their results differ only by gradient summation order.
#pragma once

#include <string>
#include <vector>

namespace cbednet {

enum class PipelineSchedule { one_f_one_b, gpipe };
PipelineSchedule parse_schedule(const std::string& text);  // "1f1b" | "gpipe"; InvalidArgument naming --schedule
std::string to_string(PipelineSchedule schedule);

struct PipeOp {
  enum class Kind { forward, backward };
  Kind kind;
  int micro;  // micro-batch index 0..M-1
  bool operator==(const PipeOp&) const = default;
};

// Operations of stage s (0 <= s < P) for M micro-batches. Throws InvalidArgument for P < 1, M < 1 or s
// outside [0, P).
std::vector<PipeOp> pipeline_schedule(PipelineSchedule schedule, int stages, int micro_batches, int stage);

// Largest number of micro-batches whose activations are held at once (forwarded but not yet backwarded).
int peak_live_activations(const std::vector<PipeOp>& ops);

// Idle share of an ideal synchronous pipeline with equal stages: (P-1)/(M+P-1).
double theoretical_bubble(int stages, int micro_batches);

}  // namespace cbednet
