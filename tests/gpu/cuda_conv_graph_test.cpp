// The convolutions of --conv-api graph (cuDNN's graph API through cudnn-frontend, kernels/cuda/conv_graph.cpp):
// the shared conv cases of tests/kernels/kernel_ops.hpp (forward, backward data and filter, overwrite and
// accumulate, odd channel counts, kernels 1/3/5/7, strides 1-3) against the fp64 ReferenceBackend in each
// precision mode; which API ran each layer, as the backend reports it (device_facts' conv_layers); bitwise
// equal repeated runs with deterministic engines; and conv2d_bias_act_forward (a batch norm folded into the
// convolution) as one fused graph or a reported fallback. Each test skips when this machine has no CUDA device.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "kernels/cpu/reference_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "tests/gpu/conv_layers.hpp"
#include "tests/kernels/kernel_ops.hpp"

namespace cbednet::test {
namespace {

struct GraphMode {
  const char* precision;
  Layout layout;
  double tol;  // max |test - ref| / max |ref|
};
void PrintTo(const GraphMode& m, std::ostream* os) {
  *os << m.precision << (m.layout == Layout::nhwc ? " NHWC" : " NCHW");
}

// Channel counts that tensor-core engines take without padding: every graph must be accepted.
NamedOps aligned_conv_ops() {
  NamedOps ops;
  for (const ConvCase c :
       {ConvCase{1, 1, 0}, ConvCase{1, 2, 0}, ConvCase{3, 1, 1}, ConvCase{3, 2, 1}, ConvCase{7, 2, 3}})
    ops.emplace_back("aligned conv " + std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " stride " +
                         std::to_string(c.stride),
                     conv_op(c, Shape{2, 16, 12, 10}, 32));
  return ops;
}

// The folded-batch-norm cases of the shared suite (odd channel counts) and the same epilogues on channel counts
// that tensor-core engines take without padding.
NamedOps conv_bias_act_cases() {
  NamedOps ops = conv_bias_act_ops();
  for (const bool residual : {false, true})
    for (const Activation act : {Activation::none, Activation::relu})
      ops.emplace_back(std::string("aligned conv+bias 3x3") + (residual ? " +residual" : "") +
                           (act == Activation::relu ? " relu" : ""),
                       conv_bias_act_op(ConvCase{3, 1, 1}, residual, act, Shape{2, 16, 12, 10}, 32));
  return ops;
}
constexpr std::size_t kFusedLayers = 16;  // 12 shared cases + 4 aligned, each its own (geometry, epilogue)
bool fused_layer(const std::string& layer) { return layer.rfind("forward+bias", 0) == 0; }

class CudaGraphConv : public ::testing::TestWithParam<GraphMode> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    backend_ = make_backend_with("graph");
  }
  static std::unique_ptr<Backend> make_backend_with(const char* conv_api) {
    BackendOptions o{"cuda", GetParam().precision, -1, 0};
    o.conv_api = conv_api;
    return make_backend(o);
  }
  Env tested() const { return Env{*backend_, GetParam().layout, nullptr}; }
  Env reference() { return Env{reference_, Layout::nchw, backend_.get()}; }

  std::unique_ptr<Backend> backend_;
  ReferenceBackend reference_;
};

TEST_P(CudaGraphConv, MatchesTheReference) {
  for (const NamedOps& ops : {conv_ops(), conv_accumulate_ops()})
    for (const auto& [name, op] : ops) expect_close(op, tested(), reference(), GetParam().tol, name);
  // --conv-api graph tried the graph API for every layer: none ran on legacy without having been refused.
  const auto layers = conv_layers(*backend_);
  ASSERT_FALSE(layers.empty());
  int graph = 0;
  for (const auto& [layer, api] : layers) {
    EXPECT_NE(api, "legacy") << layer;
    graph += api == "graph";
    if (api == "legacy-fallback") std::cout << "[ graph API refused ] " << layer << '\n';
  }
  EXPECT_GT(graph, 0) << "the graph API ran no layer";
}

TEST_P(CudaGraphConv, AlignedChannelsRunOnTheGraphApi) {
  for (const auto& [name, op] : aligned_conv_ops()) expect_close(op, tested(), reference(), GetParam().tol, name);
  const auto layers = conv_layers(*backend_);
  EXPECT_EQ(layers.size(), 15U);  // 5 geometries x (forward, backward data, backward filter)
  for (const auto& [layer, api] : layers) EXPECT_EQ(api, "graph") << layer;
}

// Deterministic engines (the default): the same call twice gives the same bits (the tuned plan is kept).
TEST_P(CudaGraphConv, RepeatedRunsAreBitwiseEqual) {
  for (const auto& [name, op] : aligned_conv_ops()) {
    const Env e = tested();
    const std::vector<Tensor> first = op(e), second = op(e);
    ASSERT_EQ(first.size(), second.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
      const Tensor a = e.host_copy(first[i]), b = e.host_copy(second[i]);
      EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0) << name << ", output " << i;
    }
  }
}

// The legacy choice is reported as such (the comparison baseline of the device benchmark).
TEST_P(CudaGraphConv, LegacyApiIsReportedAsLegacy) {
  backend_ = make_backend_with("legacy");
  for (const auto& [name, op] : aligned_conv_ops()) expect_close(op, tested(), reference(), GetParam().tol, name);
  const auto layers = conv_layers(*backend_);
  EXPECT_EQ(layers.size(), 15U);
  for (const auto& [layer, api] : layers) EXPECT_EQ(api, "legacy") << layer;
}

// --conv-api graph: every conv2d_bias_act_forward shape tried the fused graph (conv -> residual -> bias -> ReLU);
// it ran ("graph") or cuDNN refused it and the refusal was reported ("legacy-fallback", the plain convolution and
// one epilogue kernel ran) -- never the default composition unreported. The results match the reference either way.
TEST_P(CudaGraphConv, FoldedBatchNormRunsTheFusedGraphOrReportsTheFallback) {
  for (const auto& [name, op] : conv_bias_act_cases()) expect_close(op, tested(), reference(), GetParam().tol, name);
  std::set<std::string> fused;
  int graph = 0;
  for (const auto& [layer, api] : conv_layers(*backend_)) {
    if (!fused_layer(layer)) continue;
    fused.insert(layer);
    EXPECT_TRUE(api == "graph" || api == "legacy-fallback") << layer << ": " << api;
    graph += api == "graph";
    if (api == "legacy-fallback") std::cout << "[ fused graph refused ] " << layer << '\n';
  }
  EXPECT_EQ(fused.size(), kFusedLayers) << "a conv2d_bias_act_forward call did not try the fused graph";
  // 16-bit NHWC is what inference runs in: cuDNN fusing none of these would leave the graph path without its gain.
  const std::string precision = GetParam().precision;
  if ((precision == "bf16" || precision == "fp16") && GetParam().layout == Layout::nhwc) {
    EXPECT_GT(graph, 0) << "cuDNN refused every fused convolution + bias graph in " << precision;
  }
}

// --conv-api legacy: the convolution on the legacy API and the epilogue kernel, no graph; reported as legacy.
TEST_P(CudaGraphConv, FoldedBatchNormOnTheLegacyApi) {
  backend_ = make_backend_with("legacy");
  for (const auto& [name, op] : conv_bias_act_cases()) expect_close(op, tested(), reference(), GetParam().tol, name);
  const auto layers = conv_layers(*backend_);
  EXPECT_FALSE(layers.empty());
  for (const auto& [layer, api] : layers) {
    EXPECT_FALSE(fused_layer(layer)) << layer;
    EXPECT_EQ(api, "legacy") << layer;
  }
}

// Tolerances as the per-op suite's (fp32 1e-5, bf16 2e-2); TF32 and fp16 keep 10 mantissa bits.
INSTANTIATE_TEST_SUITE_P(Precisions, CudaGraphConv,
                         ::testing::Values(GraphMode{"fp32", Layout::nhwc, 1e-5}, GraphMode{"fp32", Layout::nchw, 1e-5},
                                           GraphMode{"tf32", Layout::nhwc, 5e-3}, GraphMode{"bf16", Layout::nhwc, 2e-2},
                                           GraphMode{"fp16", Layout::nhwc, 5e-3}),
                         [](const ::testing::TestParamInfo<GraphMode>& info) {
                           return std::string(info.param.precision) +
                                  (info.param.layout == Layout::nhwc ? "_nhwc" : "_nchw");
                         });

}  // namespace
}  // namespace cbednet::test
