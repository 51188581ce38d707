// The fused batch-norm operations for training on the CUDA backend (kernels/cuda/fused_norm_cudnn.cpp):
// conv2d_stats_forward, batchnorm_finalize, scale_bias_act_forward, conv2d_backward_filter_norm_relu and
// conv2d_backward_data_norm_relu against the fp64 ReferenceBackend (whose result is the default composition of
// kernels/fused_norm_defaults.cpp), in fp32, bf16 and fp16, on --conv-api legacy (the device kernels of fused_norm.cu)
// and graph (the fused cuDNN graphs of conv_fused_graph.cpp, or the reported fallback); which path ran each fused
// convolution, as the backend reports it; bitwise equal repeated runs (fixed-order reductions, deterministic
// engines). Each test skips when this machine has no CUDA device. Written without a GPU: compiled, never run yet.
#include <gtest/gtest.h>

#include <cmath>
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

// A batch norm's parameters and micro-batch statistics with scale = gamma * invstd, bias = beta - mean * scale
// (computed in fp64, then stored as the backend's param dtype).
struct NormInput {
  Tensor gamma, beta, mean, invstd, scale, bias;
  NormRelu view() const { return {gamma, beta, mean, invstd, scale, bias}; }
};

NormInput norm_input(const Env& e, i64 channels, std::uint64_t seed) {
  const Shape cs{1, channels, 1, 1};
  Tensor gamma = random_tensor(cs, seed, 0.5, 1.5), beta = random_tensor(cs, seed + 1, -0.5, 0.5);
  Tensor mean = random_tensor(cs, seed + 2, -0.3, 0.3), invstd = random_tensor(cs, seed + 3, 0.7, 1.4);
  Tensor scale(cs, DType::f64), bias(cs, DType::f64);
  for (i64 c = 0; c < channels; ++c) {
    scale.data<double>()[c] = gamma.data<double>()[c] * invstd.data<double>()[c];
    bias.data<double>()[c] = beta.data<double>()[c] - mean.data<double>()[c] * scale.data<double>()[c];
  }
  return {e.param(gamma), e.param(beta), e.param(mean), e.param(invstd), e.param(scale), e.param(bias)};
}

Op stats_forward_op(ConvCase cc, bool transform, Shape xs, i64 k) {
  return [=](const Env& e) {
    const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
    const Shape ys = g.output_shape(xs, k);
    const NormInput in = norm_input(e, xs.c, 101);
    const NormRelu input = in.view();
    Tensor x = e.in(random_tensor(xs, 91)), w = e.in(random_tensor({k, xs.c, cc.kernel, cc.kernel}, 92));
    Tensor y = e.out(ys), sum = e.param_out({1, k, 1, 1}), sqsum = e.param_out({1, k, 1, 1});
    e.backend.conv2d_stats_forward(x, transform ? &input : nullptr, w, y, sum, sqsum, g);
    return outputs(y, sum, sqsum);
  };
}

Op finalize_op(bool steps) {
  return [=](const Env& e) {
    const i64 channels = 13;
    const double count = 40.0;
    const Shape cs{1, channels, 1, 1};
    // Sums of `count` values with mean in [-0.5, 0.5] and biased variance in [0.5, 1.5].
    const Tensor m = random_tensor(cs, 111, -0.5, 0.5), v = random_tensor(cs, 112, 0.5, 1.5);
    Tensor s(cs, DType::f64), q(cs, DType::f64);
    for (i64 c = 0; c < channels; ++c) {
      s.data<double>()[c] = m.data<double>()[c] * count;
      q.data<double>()[c] = (v.data<double>()[c] + m.data<double>()[c] * m.data<double>()[c]) * count;
    }
    Tensor sum = e.param(s), sqsum = e.param(q);
    Tensor gamma = e.param(random_tensor(cs, 113, 0.5, 1.5)), beta = e.param(random_tensor(cs, 114, -0.5, 0.5));
    Tensor scale = e.param_out(cs), bias = e.param_out(cs), mean = e.param_out(cs), var = e.param_out(cs),
           invstd = e.param_out(cs);
    Tensor step_mean = e.param(random_tensor(cs, 115)), step_var = e.param(random_tensor(cs, 116, 0.0, 2.0));
    e.backend.batchnorm_finalize(sum, sqsum, static_cast<i64>(count), gamma, beta, 1e-5, scale, bias, mean, var, invstd,
                                 steps ? &step_mean : nullptr, steps ? &step_var : nullptr);
    return steps ? outputs(scale, bias, mean, var, invstd, step_mean, step_var)
                 : outputs(scale, bias, mean, var, invstd);
  };
}

enum class Residual { none, plain, scaled };

Op scale_bias_act_op(Residual residual, Activation act, Shape xs) {
  return [=](const Env& e) {
    const Shape cs{1, xs.c, 1, 1};
    Tensor x = e.in(random_tensor(xs, 121)), r = e.in(random_tensor(xs, 122)), y = e.out(xs);
    Tensor scale = e.param(random_tensor(cs, 123, 0.5, 1.5)), bias = e.param(random_tensor(cs, 124, -0.5, 0.5));
    Tensor rs = e.param(random_tensor(cs, 125, 0.5, 1.5)), rb = e.param(random_tensor(cs, 126, -0.5, 0.5));
    const bool scaled = residual == Residual::scaled;
    e.backend.scale_bias_act_forward(x, scale, bias, residual == Residual::none ? nullptr : &r, scaled ? &rs : nullptr,
                                     scaled ? &rb : nullptr, act, y);
    return outputs(y);
  };
}

Op wgrad_norm_relu_op(ConvCase cc, GradMode mode, Shape xs, i64 k) {
  return [=](const Env& e) {
    const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
    const NormInput in = norm_input(e, xs.c, 131);
    Tensor x = e.in(random_tensor(xs, 132)), dy = e.in(random_tensor(g.output_shape(xs, k), 133));
    Tensor dw = e.in(random_tensor({k, xs.c, cc.kernel, cc.kernel}, 134));  // the gradient accumulated onto
    e.backend.conv2d_backward_filter_norm_relu(x, in.view(), dy, dw, g, mode);
    return outputs(dw);
  };
}

Op dgrad_norm_relu_op(ConvCase cc, GradMode mode, Shape xs, i64 k) {
  return [=](const Env& e) {
    const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
    const Shape cs{1, xs.c, 1, 1};
    const NormInput in = norm_input(e, xs.c, 141);
    Tensor x = e.in(random_tensor(xs, 142)), w = e.in(random_tensor({k, xs.c, cc.kernel, cc.kernel}, 143));
    Tensor dy = e.in(random_tensor(g.output_shape(xs, k), 144)), dx = e.out(xs);
    Tensor dgamma = e.param(random_tensor(cs, 145)), dbeta = e.param(random_tensor(cs, 146));
    e.backend.conv2d_backward_data_norm_relu(dy, w, x, in.view(), dx, dgamma, dbeta, g, mode);
    return outputs(dx, dgamma, dbeta);
  };
}

const char* mode_name(GradMode mode) { return mode == GradMode::accumulate ? " accumulate" : ""; }

// The fused convolutions on shape xs with k output channels, each geometry.
NamedOps fused_conv_ops(Shape xs, i64 k, const std::string& tag) {
  NamedOps ops;
  for (const ConvCase cc : {ConvCase{3, 1, 1}, ConvCase{1, 1, 0}, ConvCase{3, 2, 1}}) {
    const std::string geometry = tag + " " + std::to_string(cc.kernel) + "x" + std::to_string(cc.kernel) + " stride " +
                                 std::to_string(cc.stride);
    for (const bool transform : {false, true})
      ops.emplace_back("stats forward" + std::string(transform ? " +norm_relu " : " ") + geometry,
                       stats_forward_op(cc, transform, xs, k));
    for (const GradMode mode : {GradMode::overwrite, GradMode::accumulate}) {
      ops.emplace_back("wgrad norm_relu" + std::string(mode_name(mode)) + " " + geometry,
                       wgrad_norm_relu_op(cc, mode, xs, k));
      ops.emplace_back("dgrad norm_relu" + std::string(mode_name(mode)) + " " + geometry,
                       dgrad_norm_relu_op(cc, mode, xs, k));
    }
  }
  return ops;
}
// Each geometry: stats forward plain and +norm_relu, wgrad and dgrad (overwrite and accumulate share a layer).
constexpr std::size_t kFusedLayersPerShape = 3 * 4;

// Channel counts tensor-core engines take without padding (the graph path's case), and odd ones.
NamedOps all_fused_conv_ops() {
  NamedOps ops = fused_conv_ops(Shape{2, 16, 12, 10}, 32, "aligned");
  for (auto& op : fused_conv_ops(odd_shape, odd_k, "odd")) ops.push_back(std::move(op));
  return ops;
}

NamedOps per_channel_ops() {
  NamedOps ops{{"finalize", finalize_op(false)}, {"finalize +steps", finalize_op(true)}};
  for (const Shape xs : {odd_shape, Shape{2, 16, 12, 10}})
    for (const Residual r : {Residual::none, Residual::plain, Residual::scaled})
      for (const Activation act : {Activation::none, Activation::relu})
        ops.emplace_back("scale_bias_act " + xs.str() +
                             (r == Residual::none    ? ""
                              : r == Residual::plain ? " +residual"
                                                     : " +scaled residual") +
                             (act == Activation::relu ? " relu" : ""),
                         scale_bias_act_op(r, act, xs));
  return ops;
}

// The labels conv_fused_graph.cpp gives its graphs: "forward+genstats ...", "forward+norm_relu+genstats ...",
// "backward filter+norm_relu ...", "backward data+drelu+dbn_weight ...".
bool fused_layer(const std::string& layer) {
  for (const char* prefix :
       {"forward+genstats", "forward+norm_relu", "backward filter+norm_relu", "backward data+drelu"})
    if (layer.rfind(prefix, 0) == 0) return true;
  return false;
}

struct FusedMode {
  const char* precision;
  const char* conv_api;
  Layout layout;
  double tol;  // max |test - ref| / max |ref|
};
void PrintTo(const FusedMode& m, std::ostream* os) {
  *os << m.precision << ' ' << m.conv_api << (m.layout == Layout::nhwc ? " NHWC" : " NCHW");
}

class CudaFusedNorm : public ::testing::TestWithParam<FusedMode> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    BackendOptions o{"cuda", GetParam().precision, -1, 0};
    o.conv_api = GetParam().conv_api;
    backend_ = make_backend(o);
  }
  bool graph_api() const { return std::string(GetParam().conv_api) == "graph"; }
  Env tested() const { return Env{*backend_, GetParam().layout, nullptr}; }
  Env reference() { return Env{reference_, Layout::nchw, backend_.get()}; }

  std::unique_ptr<Backend> backend_;
  ReferenceBackend reference_;
};

TEST_P(CudaFusedNorm, PerChannelOpsMatchTheReference) {
  for (const auto& [name, op] : per_channel_ops()) expect_close(op, tested(), reference(), GetParam().tol, name);
}

TEST_P(CudaFusedNorm, FusedConvolutionsMatchTheReference) {
  for (const auto& [name, op] : all_fused_conv_ops()) expect_close(op, tested(), reference(), GetParam().tol, name);
}

// --conv-api graph: every fused convolution tried its fused graph and ran it ("graph") or reported the refusal
// ("legacy-fallback": the kernels path ran). --conv-api legacy: no fused graph was tried, every convolution ran on
// the legacy API.
TEST_P(CudaFusedNorm, ReportsWhichPathRanEachFusedConvolution) {
  for (const auto& [name, op] : all_fused_conv_ops()) op(tested());
  backend_->synchronize();
  std::set<std::string> fused;
  int graph = 0;
  for (const auto& [layer, api] : conv_layers(*backend_)) {
    if (!graph_api()) {
      EXPECT_FALSE(fused_layer(layer)) << layer;
      EXPECT_EQ(api, "legacy") << layer;
      continue;
    }
    if (!fused_layer(layer)) continue;
    fused.insert(layer);
    EXPECT_TRUE(api == "graph" || api == "legacy-fallback") << layer << ": " << api;
    graph += api == "graph";
    if (api == "legacy-fallback") std::cout << "[ fused graph refused ] " << layer << '\n';
  }
  if (!graph_api()) return;
  // The odd shape's 16-bit NHWC inputs (5 channels) take the kernels path without trying a graph (the plain
  // convolutions pad them); every other fused call tried its graph.
  const bool padded = std::string(GetParam().precision) != "fp32" && GetParam().layout == Layout::nhwc;
  EXPECT_EQ(fused.size(), padded ? kFusedLayersPerShape : 2 * kFusedLayersPerShape)
      << "a fused convolution did not try its graph";
  // Which graphs cuDNN takes. Asked without a GPU (cbednet-graph-plans; bench/results/deviceless-plans-2026-12-07,
  // these shapes probed the same way), cuDNN 9.19 on sm_90 has NormConvolution engines for fp16 only: stats forward
  // (plain and norm+ReLU) and norm+ReLU wgrad. bf16 has none, and dgrad+dReLU+dBN has only run-time-compiled ones,
  // which the backend deselects. So fp16 must run those as graphs for the aligned shape; elsewhere a refusal is
  // allowed.
  if (std::string(GetParam().precision) == "fp16") {
    int expected = 0;
    for (const auto& [layer, api] : conv_layers(*backend_)) {
      const bool normconv = layer.rfind("forward+genstats", 0) == 0 || layer.rfind("forward+norm_relu", 0) == 0 ||
                            layer.rfind("backward filter+norm_relu", 0) == 0;
      if (!normconv || layer.find("[2,16,12,10]") == std::string::npos) continue;
      ++expected;
      EXPECT_EQ(api, "graph") << layer;
    }
    EXPECT_EQ(expected, 9) << "three geometries, each with stats forward plain and +norm_relu and wgrad norm_relu";
  }
  std::cout << "[ fused graphs ] " << graph << " of " << fused.size() << " ran as cuDNN graphs in "
            << GetParam().precision << '\n';
}

// Fixed-order reductions and deterministic engines: the same call twice gives the same bits.
TEST_P(CudaFusedNorm, RepeatedRunsAreBitwiseEqual) {
  NamedOps ops = fused_conv_ops(Shape{2, 16, 12, 10}, 32, "aligned");
  for (auto& op : per_channel_ops()) ops.push_back(std::move(op));
  for (const auto& [name, op] : ops) {
    const Env e = tested();
    const std::vector<Tensor> first = op(e), second = op(e);
    ASSERT_EQ(first.size(), second.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
      const Tensor a = e.host_copy(first[i]), b = e.host_copy(second[i]);
      EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0) << name << ", output " << i;
    }
  }
}

// Tolerances as the per-op suite's and cuda_conv_graph_test.cpp's: fp32 (TF32 off) 1e-5, bf16 2e-2; fp16 1e-2, twice
// the plain fp16 graphs' 5e-3, as its graphs also round the input transform's scale and bias to fp16.
INSTANTIATE_TEST_SUITE_P(
    Modes, CudaFusedNorm,
    ::testing::Values(FusedMode{"fp32", "legacy", Layout::nhwc, 1e-5}, FusedMode{"fp32", "legacy", Layout::nchw, 1e-5},
                      FusedMode{"bf16", "legacy", Layout::nhwc, 2e-2}, FusedMode{"fp32", "graph", Layout::nhwc, 1e-5},
                      FusedMode{"bf16", "graph", Layout::nhwc, 2e-2}, FusedMode{"fp16", "legacy", Layout::nhwc, 1e-2},
                      FusedMode{"fp16", "graph", Layout::nhwc, 1e-2}),
    [](const ::testing::TestParamInfo<FusedMode>& info) {
      return std::string(info.param.precision) + "_" + info.param.conv_api +
             (info.param.layout == Layout::nhwc ? "_nhwc" : "_nchw");
    });

}  // namespace
}  // namespace cbednet::test
