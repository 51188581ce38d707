// Deviceless plan check of the CUDA backend's cuDNN graphs (graph_plan_check.hpp). The operands are descriptions
// only: tensors over storage that has a size and no memory, which is all the graph builders read (shape, dtype,
// layout). Their dtypes and layouts are the ones the backend's operations hand the builders (cuda_backend_impl.hpp,
// conv_cudnn.cpp, fused_norm_cudnn.cpp): activations and filters in the compute dtype and NHWC, per-channel tensors
// in fp32 (the batch norm's own in the backend's layout, the dgrad graph's sums and scratch in NCHW), a folded bias
// in the compute dtype.
#include "kernels/cuda/graph_plan_check.hpp"

#include <cuda_runtime.h>

#include <exception>
#include <memory>
#include <optional>

#include "kernels/cuda/conv_graph_support.hpp"

namespace cbednet::cuda {

using namespace graph_api;

namespace {

// Storage with a size and no memory: an operand the graph builders describe and nothing ever reads.
class DescriptionOnly final : public Allocation {
 public:
  explicit DescriptionOnly(std::size_t bytes) : bytes_(bytes) {}
  void* data() override { return nullptr; }
  std::size_t bytes() const override { return bytes_; }
  Device device() const override { return Device::cuda; }

 private:
  std::size_t bytes_;
};

Tensor described(Shape shape, DType dtype, Layout layout) {
  const std::size_t bytes = static_cast<std::size_t>(shape.count()) * dtype_size(dtype);
  return Tensor(shape, dtype, layout, std::make_shared<DescriptionOnly>(bytes));
}

struct Mode {
  DType compute;
  EngineRules rules;
};

Mode parse_mode(const GraphPlanOptions& options) {
  check_precision(options.precision);
  const Precision p = *parse_precision(options.precision);
  return {compute_dtype(p), {p == Precision::fp32, options.deterministic}};
}

// CudaBackend::pad_channels's rule (with padding on, the backend's default).
bool padded(const Shape& s, DType compute, Layout layout) { return wants_channel_padding(compute, layout, s.c); }

// The per-channel tensors of a NormRelu: fp32 in the backend's layout, as BatchNorm allocates them; the input
// transform's scale and bias as CudaBackend::graph_norm_input hands them to the graphs.
struct NormOperands {
  Tensor gamma, beta, mean, invstd, scale, bias;
  NormOperands(std::int64_t channels, DType activations)
      : gamma(channel(channels)),
        beta(channel(channels)),
        mean(channel(channels)),
        invstd(channel(channels)),
        scale(channel(channels, norm_input_dtype(activations))),
        bias(channel(channels, norm_input_dtype(activations))) {}
  NormRelu view() const { return {gamma, beta, mean, invstd, scale, bias}; }
  static Tensor channel(std::int64_t c, DType dtype = DType::f32) {
    return described({1, c, 1, 1}, dtype, Layout::nhwc);
  }
};

struct Built {
  std::shared_ptr<fe::graph::Graph> graph;
  std::string layer;
  std::string not_a_graph;  // why the backend runs no graph for this call
};

Built build_plain(const ConvCall& call, DType d, Layout layout) {
  const bool pad = padded(call.kind == ConvCallKind::backward_data ? call.out : call.a, d, layout);
  const auto act = [&](Shape s, bool channels) {
    return described(channels && pad ? padded_channels(s) : s, d, layout);
  };
  const char* op = to_string(call.kind);
  const ConvGeometry& g = call.geometry;
  switch (call.kind) {
    case ConvCallKind::forward: {
      const Tensor x = act(call.a, true), w = act(call.b, true), y = act(call.out, false);
      return {make_conv_graph('F', x, w, y, g, op), layer_label('F', x, w, y, g), {}};
    }
    case ConvCallKind::backward_data: {
      const Tensor dy = act(call.a, false), w = act(call.b, true), dx = act(call.out, true);
      return {make_conv_graph('D', dy, w, dx, g, op), layer_label('D', dy, w, dx, g), {}};
    }
    case ConvCallKind::backward_filter: {
      const Tensor x = act(call.a, true), dy = act(call.b, false), dw = act(call.out, true);
      return {make_conv_graph('W', dy, x, dw, g, op), layer_label('W', dy, x, dw, g), {}};
    }
    default: {
      const Tensor x = act(call.a, true), w = act(call.b, true), y = act(call.out, false);
      const Tensor bias = described({1, call.out.c, 1, 1}, d, layout);
      const std::optional<Tensor> residual =
          call.residual ? std::optional<Tensor>(described(call.out, d, layout)) : std::nullopt;
      return {make_bias_act_graph(x, w, bias, residual ? &*residual : nullptr, call.relu, y, g, op),
              layer_label('F', x, w, y, g, epilogue_name(call.residual, call.relu)),
              {}};
    }
  }
}

Built build_fused(const ConvCall& call, DType d, Layout layout) {
  const char* op = to_string(call.kind);
  const ConvGeometry& g = call.geometry;
  const auto act = [&](Shape s) { return described(s, d, layout); };
  const Shape& input = call.kind == ConvCallKind::dgrad_norm_relu ? call.out : call.a;
  if (padded(input, d, layout))
    return {nullptr, {}, "16-bit input with channels not a multiple of 8: the kernels path"};
  const NormOperands norm(input.c, d);
  switch (call.kind) {
    case ConvCallKind::stats_forward: {
      const Tensor x = act(call.a), w = act(call.b), y = act(call.out);
      const Tensor sum = NormOperands::channel(call.out.c), sqsum = NormOperands::channel(call.out.c);
      const NormRelu relu = norm.view();
      return {make_stats_graph(x, call.norm_input ? &relu : nullptr, w, y, sum, sqsum, g, op),
              layer_label('F', x, w, y, g, call.norm_input ? "+norm_relu+genstats" : "+genstats"),
              {}};
    }
    case ConvCallKind::wgrad_norm_relu: {
      const Tensor x = act(call.a), dy = act(call.b), dw = act(call.out);
      return {make_wgrad_graph(x, norm.view(), dy, dw, g, op), layer_label('W', dy, x, dw, g, "+norm_relu"), {}};
    }
    default: {
      // x is read in dx's layout, and dz (the masked data gradient) is scratch of x's shape and dtype.
      const Tensor dy = act(call.a), w = act(call.b), x = act(call.out), dz = act(call.out);
      const Shape channels{1, call.out.c, 1, 1};
      const auto scratch = [&] { return described(channels, DType::f32, Layout::nchw); };
      const Tensor sum_dz = scratch(), sum_dzxhat = scratch();
      const DbnExtras extras{scratch(), scratch(), scratch()};
      return {make_dgrad_graph(dy, w, x, norm.view(), dz, sum_dz, sum_dzxhat, extras, g, op),
              layer_label('D', dy, w, dz, g, "+drelu+dbn_weight"),
              {}};
    }
  }
}

}  // namespace

void check_precision(const std::string& precision) {
  if (!parse_precision(precision))
    throw_error<InvalidArgument>("--precision ", precision, ": the cuda backend supports fp32, tf32, bf16 and fp16");
}

const char* to_string(ConvCallKind kind) {
  switch (kind) {
    case ConvCallKind::forward:
      return "conv2d_forward";
    case ConvCallKind::backward_data:
      return "conv2d_backward_data";
    case ConvCallKind::backward_filter:
      return "conv2d_backward_filter";
    case ConvCallKind::bias_act:
      return "conv2d_bias_act_forward";
    case ConvCallKind::stats_forward:
      return "conv2d_stats_forward";
    case ConvCallKind::wgrad_norm_relu:
      return "conv2d_backward_filter_norm_relu";
    case ConvCallKind::dgrad_norm_relu:
      return "conv2d_backward_data_norm_relu";
  }
  return "?";
}

std::vector<GraphPlanResult> check_graph_plans(const GraphPlanOptions& options, const std::vector<ConvCall>& calls) {
  const Mode mode = parse_mode(options);
  const std::vector<std::uint8_t> json(options.device_properties_json.begin(), options.device_properties_json.end());
  auto properties = std::make_shared<fe::DeviceProperties>();
  if (auto st = properties->deserialize(json); st.is_bad())
    throw_error<InvalidArgument>("cuDNN could not read the device properties (", first_line(st.get_message()), ")");
  std::vector<GraphPlanResult> results;
  for (const ConvCall& call : calls) {
    const bool fused = call.kind == ConvCallKind::stats_forward || call.kind == ConvCallKind::wgrad_norm_relu ||
                       call.kind == ConvCallKind::dgrad_norm_relu;
    GraphPlanResult result;
    Built built;
    try {
      built = fused ? build_fused(call, mode.compute, options.layout) : build_plain(call, mode.compute, options.layout);
    } catch (const std::exception& e) {  // the frontend throws on some malformed graphs instead of returning
      result.path = "refused";
      result.reason = std::string("building the graph: ") + e.what();
    }
    result.layer = built.layer.empty() ? to_string(call.kind) : built.layer;
    if (!built.not_a_graph.empty()) {
      result.path = "kernels";
      result.reason = built.not_a_graph;
    } else if (built.graph) {
      built.graph->set_device_properties(properties).set_sm_version(options.sm_version);
      result.reason = prepare_plans(*built.graph, nullptr, mode.rules, options.workspace_limit, &result.plans);
      result.path = result.reason.empty() ? "graph" : "refused";
      result.reason = first_line(result.reason);
    }
    results.push_back(std::move(result));
  }
  return results;
}

SavedDeviceProperties save_device_properties(int device) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    throw_error<BackendError>("save_device_properties: no CUDA device ", device);
  }
  auto properties = std::make_shared<fe::DeviceProperties>();
  std::vector<std::uint8_t> json;
  if (auto st = properties->set_device_id(device).build(); st.is_bad())
    throw_error<BackendError>("save_device_properties: cuDNN: ", first_line(st.get_message()));
  if (auto st = properties->serialize(json); st.is_bad())
    throw_error<BackendError>("save_device_properties: cuDNN: ", first_line(st.get_message()));
  return {std::string(json.begin(), json.end()), major * 10 + minor};
}

}  // namespace cbednet::cuda
