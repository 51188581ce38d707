// Which of the CUDA backend's cuDNN graphs cuDNN would run on a given GPU, asked without that GPU.
//
// cuDNN 9.8+ builds execution plans "devicelessly" from a device-properties descriptor: its JSON form is saved from a
// real card (save_device_properties), or written from the card's published specification. Each convolution call is
// described as the backend's public operation receives it, mapped to the operands the CUDA backend would hand the
// graph builders in a precision mode (16-bit NHWC activations and filters, fp32 per-channel tensors, the stem's
// channels padded to 8), built by the same builders as at run time (conv_graph_support.hpp) and taken through the
// same plan selection: heuristics, the engine rules of the precision mode and of determinism, no engine compiled at
// run time, the workspace cap, up to kTunedPlans plans built. Only the autotune, which times plans, needs the card.
// bench/gpu/graph_plans.cpp (cbednet-graph-plans) runs it over a whole network's calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/backend.hpp"

namespace cbednet::cuda {

enum class ConvCallKind : std::uint8_t {
  forward,          // a = x, b = w, out = y
  backward_data,    // a = dy, b = w, out = dx
  backward_filter,  // a = x, b = dy, out = dw
  bias_act,         // a = x, b = w, out = y: act(conv + bias [+ residual]), a batch norm folded in (inference)
  stats_forward,    // a = x, b = w, out = y, with y's per-channel sums; norm_input: relu(x * scale + bias) convolved
  wgrad_norm_relu,  // a = x, b = dy, out = dw, the filter gradient against relu(x * scale + bias)
  dgrad_norm_relu,  // a = dy, b = w, out = dx: through the convolution, the ReLU and the batch norm before it
};
const char* to_string(ConvCallKind kind);

// One call of a convolution operation, in logical shapes (N, C, H, W; filters K, C, R, S).
struct ConvCall {
  ConvCallKind kind = ConvCallKind::forward;
  Shape a, b, out;
  ConvGeometry geometry;
  bool norm_input = false;  // stats_forward: the batch norm and ReLU before the convolution are applied as it reads
  bool residual = false;    // bias_act
  bool relu = false;        // bias_act
};

struct GraphPlanOptions {
  std::string device_properties_json;                    // cuDNN's JSON form of a CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR
  int sm_version = 90;                                   // major * 10 + minor of that card
  std::string precision = "bf16";                        // fp32 | tf32 | bf16 | fp16, as --precision
  bool deterministic = true;                             // false: as --nondeterministic
  std::int64_t workspace_limit = std::int64_t{1} << 30;  // the backend's cap on a large card (1 GiB)
  Layout layout = Layout::nhwc;  // of activations and filters: the backend's own; its operations also take NCHW
};

struct GraphPlanResult {
  std::string layer;       // the backend's label for the graph, as in bench's per-layer JSON
  std::string path;        // "graph": plans built; "refused": the backend would run its fallback; "kernels": no graph
  std::int64_t plans = 0;  // plans built (at most the backend's kTunedPlans)
  std::string reason;      // for "refused" and "kernels": why
};

// Throws InvalidArgument naming --precision unless it is one the CUDA backend runs (as make_cuda_backend).
void check_precision(const std::string& precision);

// One result per call, in order. Throws InvalidArgument for a descriptor cuDNN cannot read (naming the step) and for
// an unknown precision; a graph cuDNN refuses is a result, not an error.
std::vector<GraphPlanResult> check_graph_plans(const GraphPlanOptions& options, const std::vector<ConvCall>& calls);

// The JSON device properties of CUDA device `device` and its SM version (needs that GPU; throws BackendError without).
struct SavedDeviceProperties {
  std::string json;
  int sm_version = 0;
};
SavedDeviceProperties save_device_properties(int device);

}  // namespace cbednet::cuda
