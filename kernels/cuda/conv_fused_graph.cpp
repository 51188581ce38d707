// The fused batch-norm convolutions for training (the MLPerf "NormConvolution" pattern) as cuDNN graphs, built
// with cudnn-frontend under --conv-api graph (fused_norm_cudnn.cpp decides when):
//   stats forward   [x 1 -> MUL scale 4 -> ADD bias 5 -> RELU_FWD] -> conv_fprop(w 2) -> y 3 -> genstats ->
//                   sum 6, sqsum 7 (SUM_SQSUM; without an input transform the convolution reads x itself)
//   wgrad           x 1 -> MUL scale 4 -> ADD bias 5 -> RELU_FWD -> conv_wgrad(dy 8) -> dw 9
//   dgrad           conv_dgrad(dy 8, w 2) -> RELU_BWD against x 1 * scale 4 + bias 5 -> dz 10 -> dbn_weight(x,
//                   mean 11, invstd 12, gamma 13) -> dscale 14, dbias 15 (and its equivalent scale/bias outputs
//                   16-18, unused: the apply kernel of fused_norm.cu computes dx with batchnorm_backward's formula)
// The transformed input x * scale + bias (and its ReLU) and the dgrad output stay virtual (fp32); the per-channel
// tensors are the backend's fp32 ones. Each graph is cached per key (shapes, dtypes, layouts, geometry) in the
// cache of the plain graph convolutions and tuned as they are (conv_graph_support.hpp): engines the precision mode
// or determinism forbids are never chosen. A graph cuDNN refuses is remembered; that shape runs the kernels path
// (fused_norm.cu) for the rest of the process, reported once on stderr and as "legacy-fallback" in
// conv_api_ran(). Compiled and linked only: never run on a GPU yet (docs/gpu-backend.md, "Not done yet").
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>

#include "kernels/cuda/conv_graph_support.hpp"

namespace cbednet::cuda {

namespace graph_api {

namespace {

constexpr std::int64_t kUidX = 1, kUidW = 2, kUidY = 3, kUidScale = 4, kUidBias = 5, kUidSum = 6, kUidSqSum = 7,
                       kUidDy = 8, kUidDw = 9, kUidDz = 10, kUidMean = 11, kUidInvstd = 12, kUidGamma = 13,
                       kUidDscale = 14, kUidDbias = 15, kUidEqScaleDy = 16, kUidEqScaleX = 17, kUidEqBias = 18;

using TensorPtr = std::shared_ptr<fe::graph::Tensor_attributes>;

fe::graph::Pointwise_attributes pointwise(fe::PointwiseMode_t mode, const char* name) {
  return fe::graph::Pointwise_attributes().set_name(name).set_mode(mode).set_compute_data_type(fe::DataType_t::FLOAT);
}

// x * input.scale + input.bias [-> ReLU] per channel: the batch norm before the convolution, applied as it reads x.
TensorPtr norm_input(fe::graph::Graph& graph, const TensorPtr& x, const NormRelu& input, bool relu, const char* op) {
  auto scale = graph.tensor(describe(input.scale, "scale", kUidScale, op));
  auto bias = graph.tensor(describe(input.bias, "bias", kUidBias, op));
  TensorPtr t = graph.pointwise(x, scale, pointwise(fe::PointwiseMode_t::MUL, "norm_scale"));
  t = graph.pointwise(t, bias, pointwise(fe::PointwiseMode_t::ADD, "norm_bias"));
  return relu ? graph.pointwise(t, pointwise(fe::PointwiseMode_t::RELU_FWD, "norm_relu")) : t;
}

}  // namespace

std::shared_ptr<fe::graph::Graph> make_stats_graph(const Tensor& x, const NormRelu* input, const Tensor& w,
                                                   const Tensor& y, const Tensor& sum, const Tensor& sqsum,
                                                   const ConvGeometry& g, const char* op) {
  auto graph = new_graph(y, op);
  const TensorPtr xt = graph->tensor(describe(x, "x", kUidX, op));
  const TensorPtr in = input ? norm_input(*graph, xt, *input, true, op) : xt;
  const TensorPtr wt = graph->tensor(describe(w, "w", kUidW, op));
  const TensorPtr yt = graph->conv_fprop(in, wt, conv_attributes(fe::graph::Conv_fprop_attributes(), "fprop", g, y));
  set_graph_output(*yt, y, kUidY, op);
  auto [s, q] = graph->genstats(
      yt, fe::graph::Genstats_attributes().set_name("genstats").set_compute_data_type(fe::DataType_t::FLOAT));
  set_graph_output(*s, sum, kUidSum, op);
  set_graph_output(*q, sqsum, kUidSqSum, op);
  return graph;
}

std::shared_ptr<fe::graph::Graph> make_wgrad_graph(const Tensor& x, const NormRelu& input, const Tensor& dy,
                                                   const Tensor& dw, const ConvGeometry& g, const char* op) {
  auto graph = new_graph(dw, op);
  const TensorPtr xt = graph->tensor(describe(x, "x", kUidX, op));
  const TensorPtr in = norm_input(*graph, xt, input, true, op);
  const TensorPtr dyt = graph->tensor(describe(dy, "dy", kUidDy, op));
  const TensorPtr dwt = graph->conv_wgrad(dyt, in, conv_attributes(fe::graph::Conv_wgrad_attributes(), "wgrad", g, dw));
  set_graph_output(*dwt, dw, kUidDw, op);
  return graph;
}

std::shared_ptr<fe::graph::Graph> make_dgrad_graph(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                   const NormRelu& input, const Tensor& dz, const Tensor& sum_dz,
                                                   const Tensor& sum_dzxhat, const DbnExtras& extras,
                                                   const ConvGeometry& g, const char* op) {
  auto graph = new_graph(dz, op);
  const TensorPtr dyt = graph->tensor(describe(dy, "dy", kUidDy, op));
  const TensorPtr wt = graph->tensor(describe(w, "w", kUidW, op));
  const TensorPtr da = graph->conv_dgrad(dyt, wt, conv_attributes(fe::graph::Conv_dgrad_attributes(), "dgrad", g, dz));
  const Shape& s = x.shape();
  da->set_dim({s.n, s.c, s.h, s.w});
  const TensorPtr xt = graph->tensor(describe(x, "x", kUidX, op));
  // RELU_BWD: IN_0 the incoming gradient, IN_1 the forward ReLU's input (recomputed, never stored).
  const TensorPtr dzt =
      graph->pointwise(da, norm_input(*graph, xt, input, false, op), pointwise(fe::PointwiseMode_t::RELU_BWD, "drelu"));
  set_graph_output(*dzt, dz, kUidDz, op);
  const TensorPtr mean = graph->tensor(describe(input.mean, "mean", kUidMean, op));
  const TensorPtr invstd = graph->tensor(describe(input.invstd, "invstd", kUidInvstd, op));
  const TensorPtr gamma = graph->tensor(describe(input.gamma, "gamma", kUidGamma, op));
  auto [dscale, dbias, eq_scale_dy, eq_scale_x, eq_bias] =
      graph->dbn_weight(dzt, xt, mean, invstd, gamma, fe::graph::DBN_weight_attributes().set_name("dbn_weight"));
  set_graph_output(*dscale, sum_dzxhat, kUidDscale, op);
  set_graph_output(*dbias, sum_dz, kUidDbias, op);
  set_graph_output(*eq_scale_dy, extras.eq_scale_dy, kUidEqScaleDy, op);
  set_graph_output(*eq_scale_x, extras.eq_scale_x, kUidEqScaleX, op);
  set_graph_output(*eq_bias, extras.eq_bias, kUidEqBias, op);
  return graph;
}

}  // namespace graph_api

using namespace graph_api;

namespace {

void* operand(const Tensor& t) { return const_cast<void*>(t.raw()); }

// The key's part for a per-channel operand set (dtype and layout of each).
std::string channel_key(std::initializer_list<const Tensor*> ts) {
  std::ostringstream k;
  for (const Tensor* t : ts) k << '|' << static_cast<int>(t->dtype()) << ',' << static_cast<int>(t->layout());
  return k.str();
}

}  // namespace

bool CudaBackend::fused_graph_run(const std::string& key, const std::string& layer,
                                  const std::function<std::shared_ptr<fe::graph::Graph>()>& build, Operands& operands,
                                  const char* fallback_words, const char* op) {
  if (!conv_graphs_) conv_graphs_ = std::make_shared<ConvGraphCache>();
  auto it = conv_graphs_->entries.find(key);
  if (it != conv_graphs_->entries.end() && !it->second.graph) return false;  // refused before
  if (it == conv_graphs_->entries.end()) {
    ConvGraphCache::Entry entry;
    std::shared_ptr<fe::graph::Graph> graph;
    std::string refused;
    try {
      graph = build();
    } catch (const std::exception& e) {  // the frontend throws on some malformed graphs instead of returning
      refused = std::string("building the graph: ") + e.what();
    }
    // The autotune executes the graph several times: every graph here only writes its outputs, which this call
    // overwrites anyway (accumulation goes through scratch).
    if (refused.empty())
      refused = tune(
          *graph, cudnn_.get(), EngineRules{precision_ == Precision::fp32, deterministic_},
          static_cast<std::int64_t>(conv_search_workspace_limit()), operands,
          [&](std::size_t bytes) { return workspace(bytes, op); }, entry.workspace);
    if (refused.empty()) {
      entry.graph = std::move(graph);
      note_conv_api(layer, "graph");
    } else {
      std::cerr << "cbednet: cuda backend: cuDNN's graph API refused the fused convolution " << layer << " ("
                << first_line(refused) << "); this shape runs as " << fallback_words << '\n';
      note_conv_api(layer, "legacy-fallback");
    }
    it = conv_graphs_->entries.emplace(key, std::move(entry)).first;
  }
  const ConvGraphCache::Entry& entry = it->second;
  if (!entry.graph) return false;
  void* ws = workspace(static_cast<std::size_t>(entry.workspace), op);
  if (auto st = entry.graph->execute(cudnn_.get(), operands, ws); st.is_bad())
    throw_error<BackendError>("cuda backend, ", op, ": cuDNN graph execution failed for ", layer, ": ",
                              st.get_message());
  return true;
}

std::optional<NormRelu> CudaBackend::graph_norm_input(const NormRelu& input, DType activations, Tensor& scale,
                                                      Tensor& bias, const char* op) {
  const DType dtype = norm_input_dtype(activations);
  if (input.scale.dtype() == dtype && input.bias.dtype() == dtype) return std::nullopt;
  scale = scratch(input.scale.shape(), dtype, input.scale.layout(), op);
  bias = scratch(input.bias.shape(), dtype, input.bias.layout(), op);
  cuda::convert(view_of(input.scale), view_of(scale), stream_.get(), op);
  cuda::convert(view_of(input.bias), view_of(bias), stream_.get(), op);
  return NormRelu{input.gamma, input.beta, input.mean, input.invstd, scale, bias};
}

bool CudaBackend::stats_forward_graph_run(const Tensor& x, const NormRelu* given, const Tensor& w, Tensor& y,
                                          Tensor& sum, Tensor& sqsum, const ConvGeometry& g, const char* op) {
  Tensor scale16, bias16;
  const std::optional<NormRelu> converted =
      given ? graph_norm_input(*given, x.dtype(), scale16, bias16, op) : std::nullopt;
  const NormRelu* input = converted ? &*converted : given;
  const std::string label = layer_label('F', x, w, y, g, input ? "+norm_relu+genstats" : "+genstats");
  const void* scale = input ? input->scale.raw() : nullptr;
  const void* bias = input ? input->bias.raw() : nullptr;
  if (!aligned({x.raw(), w.raw(), y.raw(), sum.raw(), sqsum.raw(), scale, bias})) {
    note_conv_api(label, "legacy-fallback");  // this call only, as conv_graph_run
    return false;
  }
  const std::string key = "stats|" + graph_key('F', x, w, y, g) +
                          (input ? channel_key({&input->scale, &input->bias}) : std::string("|plain")) +
                          channel_key({&sum, &sqsum});
  Operands operands{
      {kUidX, operand(x)}, {kUidW, operand(w)}, {kUidY, y.raw()}, {kUidSum, sum.raw()}, {kUidSqSum, sqsum.raw()}};
  if (input) {
    operands.emplace(kUidScale, operand(input->scale));
    operands.emplace(kUidBias, operand(input->bias));
  }
  return fused_graph_run(
      key, label, [&] { return make_stats_graph(x, input, w, y, sum, sqsum, g, op); }, operands,
      "the convolution and the genstats kernels", op);
}

bool CudaBackend::wgrad_norm_relu_graph_run(const Tensor& x, const NormRelu& given, const Tensor& dy, Tensor& dw,
                                            const ConvGeometry& g, GradMode mode, const char* op) {
  Tensor scale16, bias16;
  const std::optional<NormRelu> converted = graph_norm_input(given, x.dtype(), scale16, bias16, op);
  const NormRelu& input = converted ? *converted : given;
  const std::string label = layer_label('W', dy, x, dw, g, "+norm_relu");
  if (!aligned({x.raw(), dy.raw(), dw.raw(), input.scale.raw(), input.bias.raw()})) {
    note_conv_api(label, "legacy-fallback");
    return false;
  }
  const std::string key = "wgrad_norm_relu|" + graph_key('W', dy, x, dw, g) + channel_key({&input.scale, &input.bias});
  // Accumulation: the graph writes scratch, which is then added to dw (the autotune's executions stay off dw).
  const bool accumulate = mode == GradMode::accumulate;
  Tensor target = accumulate ? scratch(dw.shape(), dw.dtype(), dw.layout(), op) : dw.view();
  Operands operands{{kUidX, operand(x)},
                    {kUidDy, operand(dy)},
                    {kUidDw, target.raw()},
                    {kUidScale, operand(input.scale)},
                    {kUidBias, operand(input.bias)}};
  if (!fused_graph_run(
          key, label, [&] { return make_wgrad_graph(x, input, dy, dw, g, op); }, operands,
          "the input transform kernel and the convolution", op))
    return false;
  if (accumulate) cuda::axpy(1.0, view_of(target), view_of(dw), stream_.get(), op);
  return true;
}

bool CudaBackend::dgrad_norm_relu_graph_run(const Tensor& dy, const Tensor& w, const Tensor& x, const NormRelu& input,
                                            Tensor& dz, Tensor& sum_dz, Tensor& sum_dzxhat, const ConvGeometry& g,
                                            const char* op) {
  const std::string label = layer_label('D', dy, w, dz, g, "+drelu+dbn_weight");
  if (!aligned({dy.raw(), w.raw(), x.raw(), dz.raw(), sum_dz.raw(), sum_dzxhat.raw(), input.scale.raw(),
                input.bias.raw(), input.mean.raw(), input.invstd.raw(), input.gamma.raw()})) {
    note_conv_api(label, "legacy-fallback");
    return false;
  }
  const Shape channels{1, x.shape().c, 1, 1};
  const DbnExtras extras{scratch(channels, DType::f32, Layout::nchw, op),
                         scratch(channels, DType::f32, Layout::nchw, op),
                         scratch(channels, DType::f32, Layout::nchw, op)};
  std::ostringstream key;
  key << "dgrad_norm_relu|" << graph_key('D', dy, w, dz, g) << "|x " << static_cast<int>(x.dtype()) << ','
      << static_cast<int>(x.layout())
      << channel_key({&input.scale, &input.bias, &input.mean, &input.invstd, &input.gamma, &sum_dz, &sum_dzxhat});
  Operands operands{{kUidDy, operand(dy)},
                    {kUidW, operand(w)},
                    {kUidX, operand(x)},
                    {kUidScale, operand(input.scale)},
                    {kUidBias, operand(input.bias)},
                    {kUidMean, operand(input.mean)},
                    {kUidInvstd, operand(input.invstd)},
                    {kUidGamma, operand(input.gamma)},
                    {kUidDz, dz.raw()},
                    {kUidDscale, sum_dzxhat.raw()},
                    {kUidDbias, sum_dz.raw()},
                    {kUidEqScaleDy, operand(extras.eq_scale_dy)},
                    {kUidEqScaleX, operand(extras.eq_scale_x)},
                    {kUidEqBias, operand(extras.eq_bias)}};
  return fused_graph_run(
      key.str(), label, [&] { return make_dgrad_graph(dy, w, x, input, dz, sum_dz, sum_dzxhat, extras, g, op); },
      operands, "the convolution, a masked per-channel reduction and the apply kernel", op);
}

}  // namespace cbednet::cuda
