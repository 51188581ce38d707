// The fused batch-norm operations (kernels/backend.hpp, "fused batch norm for training") as test cases. Each case
// runs one operation on a backend, and states what it must return by the header's formulas, computed here in fp64
// from the inputs as that backend holds them: fused_norm_ops() compares a backend with the fp64 reference like every
// other operation, expect_fused_norm_definitions() compares it with the formulas, so that a wrong default and a fused
// kernel agreeing with it cannot pass together. expect_fused_matches_unfused() runs convolution, batch norm, ReLU
// and convolution both ways on one backend.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/reference_backend.hpp"
#include "tests/kernels/kernel_ops.hpp"

namespace cbednet::test {

// ---- fp64 arithmetic on host NCHW f64 tensors ------------------------------------------------------------------

// The channel of the element at NCHW memory index i.
inline i64 channel_at(const Shape& s, i64 i) { return (i / (s.h * s.w)) % s.c; }

// Per-channel sums of t and of t squared over N, H, W.
inline std::pair<Tensor, Tensor> channel_sums(const Tensor& t) {
  const Shape& s = t.shape();
  Tensor sum({1, s.c, 1, 1}, DType::f64), sqsum({1, s.c, 1, 1}, DType::f64);
  std::fill_n(sum.data<double>(), s.c, 0.0);
  std::fill_n(sqsum.data<double>(), s.c, 0.0);
  for (i64 i = 0; i < t.count(); ++i) {
    const double v = t.data<double>()[i];
    sum.data<double>()[channel_at(s, i)] += v;
    sqsum.data<double>()[channel_at(s, i)] += v * v;
  }
  return {std::move(sum), std::move(sqsum)};
}

// act(x * scale + bias [+ residual]) per channel.
inline Tensor affine_act(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor* residual,
                         Activation act) {
  Tensor y(x.shape(), DType::f64);
  for (i64 i = 0; i < x.count(); ++i) {
    const i64 c = channel_at(x.shape(), i);
    double v = x.data<double>()[i] * scale.data<double>()[c] + bias.data<double>()[c];
    if (residual) v += residual->data<double>()[i];
    y.data<double>()[i] = act == Activation::relu ? std::max(v, 0.0) : v;
  }
  return y;
}

// The convolutions of the fp64 reference (checked against finite differences in gradcheck_test.cpp).
inline Tensor reference_conv(const Tensor& x, const Tensor& w, const ConvGeometry& g) {
  ReferenceBackend ref;
  Tensor y(g.output_shape(x.shape(), w.shape().n), DType::f64);
  ref.conv2d_forward(x, w, nullptr, y, g);
  return y;
}
inline Tensor reference_conv_data(const Tensor& dy, const Tensor& w, const Shape& xs, const ConvGeometry& g) {
  ReferenceBackend ref;
  Tensor dx(xs, DType::f64);
  ref.conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
  return dx;
}
inline Tensor reference_conv_filter(const Tensor& x, const Tensor& dy, const Shape& ws, const ConvGeometry& g) {
  ReferenceBackend ref;
  Tensor dw(ws, DType::f64);
  ref.conv2d_backward_filter(x, dy, dw, nullptr, g, GradMode::overwrite);
  return dw;
}

// a + b elementwise (an accumulated gradient).
inline Tensor plus(const Tensor& a, const Tensor& b) {
  Tensor y = a.clone();
  for (i64 i = 0; i < y.count(); ++i) y.data<double>()[i] += b.data<double>()[i];
  return y;
}

// ---- a training batch norm + ReLU in front of a convolution (NormRelu) -----------------------------------------

// Its six [C] tensors, in some environment (or as host f64 tensors), and the NormRelu that refers to them.
struct NormReluTensors {
  Tensor gamma, beta, mean, invstd, scale, bias;
  NormRelu view() const { return {gamma, beta, mean, invstd, scale, bias}; }
};

// The batch norm of x (host f64) with random gamma and beta: its batch statistics and affine map, in fp64.
inline NormReluTensors batch_norm_relu_of(const Tensor& x, std::uint64_t seed, double eps = 1e-5) {
  const Shape& s = x.shape();
  const Shape cs{1, s.c, 1, 1};
  NormReluTensors n{random_tensor(cs, seed, 0.5, 1.5),
                    random_tensor(cs, seed + 1, -0.5, 0.5),
                    Tensor(cs, DType::f64),
                    Tensor(cs, DType::f64),
                    Tensor(cs, DType::f64),
                    Tensor(cs, DType::f64)};
  const auto [sum, sqsum] = channel_sums(x);
  const double count = static_cast<double>(s.n * s.h * s.w);
  for (i64 c = 0; c < s.c; ++c) {
    const double mean = sum.data<double>()[c] / count;
    const double var = sqsum.data<double>()[c] / count - mean * mean;
    n.mean.data<double>()[c] = mean;
    n.invstd.data<double>()[c] = 1.0 / std::sqrt(var + eps);
    n.scale.data<double>()[c] = n.gamma.data<double>()[c] * n.invstd.data<double>()[c];
    n.bias.data<double>()[c] = n.beta.data<double>()[c] - mean * n.scale.data<double>()[c];
  }
  return n;
}

// The six tensors as e's parameters (param_dtype(), rounded as e's backend rounds them).
inline NormReluTensors in_env(const Env& e, const NormReluTensors& n) {
  return {e.param(n.gamma), e.param(n.beta), e.param(n.mean), e.param(n.invstd), e.param(n.scale), e.param(n.bias)};
}
// e's tensors back as host f64 tensors (the values its backend computed with).
inline NormReluTensors on_host(const Env& e, const NormReluTensors& n) {
  return {e.host_f64(n.gamma),  e.host_f64(n.beta),  e.host_f64(n.mean),
          e.host_f64(n.invstd), e.host_f64(n.scale), e.host_f64(n.bias)};
}

// The smallest |x * scale + bias| (host f64): how far the inputs are from the ReLU's kink, where two correct
// implementations may disagree about the mask.
inline double kink_margin(const Tensor& x, const NormReluTensors& n) {
  double margin = std::numeric_limits<double>::infinity();
  for (i64 i = 0; i < x.count(); ++i) {
    const i64 c = channel_at(x.shape(), i);
    margin = std::min(margin, std::abs(x.data<double>()[i] * n.scale.data<double>()[c] + n.bias.data<double>()[c]));
  }
  return margin;
}

// dz = conv_transpose(dy, w) * (x * scale + bias > 0), then batchnorm_backward's formulas from dz (host f64):
// returns dx, sum of dz * (x - mean) * invstd (dgamma), sum of dz (dbeta).
inline std::vector<Tensor> norm_relu_data_gradient(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                   const NormReluTensors& n, const ConvGeometry& g) {
  const Shape& s = x.shape();
  Tensor dz = reference_conv_data(dy, w, s, g);
  const auto at = [&](const Tensor& t, i64 i) { return t.data<double>()[channel_at(s, i)]; };
  const auto xhat = [&](i64 i) { return (x.data<double>()[i] - at(n.mean, i)) * at(n.invstd, i); };
  Tensor dx(s, DType::f64), dgamma({1, s.c, 1, 1}, DType::f64), dbeta({1, s.c, 1, 1}, DType::f64);
  std::fill_n(dgamma.data<double>(), s.c, 0.0);
  std::fill_n(dbeta.data<double>(), s.c, 0.0);
  for (i64 i = 0; i < dz.count(); ++i) {
    if (!(x.data<double>()[i] * at(n.scale, i) + at(n.bias, i) > 0.0)) dz.data<double>()[i] = 0.0;
    dgamma.data<double>()[channel_at(s, i)] += dz.data<double>()[i] * xhat(i);
    dbeta.data<double>()[channel_at(s, i)] += dz.data<double>()[i];
  }
  const double m = static_cast<double>(s.n * s.h * s.w);
  for (i64 i = 0; i < dx.count(); ++i)
    dx.data<double>()[i] =
        at(n.gamma, i) * at(n.invstd, i) * (dz.data<double>()[i] - at(dbeta, i) / m - xhat(i) * at(dgamma, i) / m);
  return outputs(std::move(dx), std::move(dgamma), std::move(dbeta));
}

// ---- the cases -------------------------------------------------------------------------------------------------

// One call of a fused operation: `run` makes its inputs in an environment, runs it there and returns its outputs;
// `define` makes the same inputs in that environment and returns the outputs by the header's formulas, in fp64 on
// the host, from the inputs as the environment's backend holds them (rounded to its dtypes).
struct FusedCase {
  std::string name;
  Op run;
  Op define;
};

inline std::string conv_case_name(const ConvCase& c) {
  return std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " stride " + std::to_string(c.stride);
}

// The convolution cases of the fused operations (odd sizes; strided, and 7x7 with padding 3).
inline std::vector<ConvCase> fused_conv_cases() { return {{3, 1, 1}, {1, 2, 0}, {7, 2, 3}}; }

// y = conv(T(x), w) and the per-channel sums of y and y squared; T = relu(x * scale + bias) with a NormRelu input.
inline FusedCase conv_stats_case(ConvCase cc, bool norm_input) {
  struct Inputs {
    Tensor x, w;
    NormReluTensors n;
  };
  const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
  const Shape xs = odd_shape, ys = g.output_shape(xs, odd_k);
  const auto inputs = [=](const Env& e) {
    const Tensor x = random_tensor(xs, 201, -0.5, 1.5);
    return Inputs{e.in(x), e.in(random_tensor({odd_k, xs.c, cc.kernel, cc.kernel}, 202)),
                  in_env(e, batch_norm_relu_of(x, 203))};
  };
  const auto run = [=](const Env& e) {
    Inputs in = inputs(e);
    const NormRelu input = in.n.view();
    Tensor y = e.out(ys), sum = e.param_out({1, odd_k, 1, 1}), sqsum = e.param_out({1, odd_k, 1, 1});
    e.backend.conv2d_stats_forward(in.x, norm_input ? &input : nullptr, in.w, y, sum, sqsum, g);
    return outputs(std::move(y), std::move(sum), std::move(sqsum));
  };
  const auto define = [=](const Env& e) {
    const Inputs in = inputs(e);
    const Tensor x = e.host_f64(in.x);
    const NormReluTensors n = on_host(e, in.n);
    Tensor y = reference_conv(norm_input ? affine_act(x, n.scale, n.bias, nullptr, Activation::relu) : x.clone(),
                              e.host_f64(in.w), g);
    auto [sum, sqsum] = channel_sums(y);
    return outputs(std::move(y), std::move(sum), std::move(sqsum));
  };
  return {"conv2d_stats_forward " + conv_case_name(cc) + (norm_input ? " with norm+relu input" : ""), run, define};
}

// Statistics from sums of 297 values per channel, 13 channels; channel 0's sums give a negative biased variance
// (rounding, in a real network), which must come out as 0.
inline FusedCase finalize_case(bool step_sums) {
  struct Inputs {
    Tensor sum, sqsum, gamma, beta, step_mean, step_var;
  };
  const i64 channels = 13, count = 297;
  const double eps = 1e-2;
  const Shape cs{1, channels, 1, 1};
  const auto inputs = [=](const Env& e) {
    const Tensor mean = random_tensor(cs, 211), var = random_tensor(cs, 212, 0.2, 2.0);
    Tensor sum(cs, DType::f64), sqsum(cs, DType::f64);
    for (i64 c = 0; c < channels; ++c) {
      const double mu = mean.data<double>()[c] + (c == 0 ? 1.0 : 0.0);
      sum.data<double>()[c] = mu * count;
      sqsum.data<double>()[c] = (c == 0 ? 0.99 * mu * mu : mu * mu + var.data<double>()[c]) * count;
    }
    return Inputs{e.param(sum),
                  e.param(sqsum),
                  e.param(random_tensor(cs, 213, 0.5, 1.5)),
                  e.param(random_tensor(cs, 214)),
                  e.param(random_tensor(cs, 215)),
                  e.param(random_tensor(cs, 216, 0.5, 1.5))};
  };
  const auto run = [=](const Env& e) {
    Inputs in = inputs(e);
    Tensor scale = e.param_out(cs), bias = e.param_out(cs), mean = e.param_out(cs), var = e.param_out(cs),
           invstd = e.param_out(cs);
    e.backend.batchnorm_finalize(in.sum, in.sqsum, count, in.gamma, in.beta, eps, scale, bias, mean, var, invstd,
                                 step_sums ? &in.step_mean : nullptr, step_sums ? &in.step_var : nullptr);
    std::vector<Tensor> out =
        outputs(std::move(scale), std::move(bias), std::move(mean), std::move(var), std::move(invstd));
    if (step_sums) {
      out.push_back(std::move(in.step_mean));
      out.push_back(std::move(in.step_var));
    }
    return out;
  };
  const auto define = [=](const Env& e) {
    const Inputs in = inputs(e);
    const Tensor sum = e.host_f64(in.sum), sqsum = e.host_f64(in.sqsum), gamma = e.host_f64(in.gamma),
                 beta = e.host_f64(in.beta);
    Tensor scale(cs, DType::f64), bias(cs, DType::f64), mean(cs, DType::f64), var(cs, DType::f64),
        invstd(cs, DType::f64);
    const double m = static_cast<double>(count);
    for (i64 c = 0; c < channels; ++c) {
      const double mu = sum.data<double>()[c] / m;
      const double biased = std::max(sqsum.data<double>()[c] / m - mu * mu, 0.0);
      if (c == 0) {
        EXPECT_EQ(biased, 0.0) << "channel 0 is meant to have a negative biased variance";
      }
      mean.data<double>()[c] = mu;
      var.data<double>()[c] = biased * m / (m - 1.0);
      invstd.data<double>()[c] = 1.0 / std::sqrt(biased + eps);
      scale.data<double>()[c] = gamma.data<double>()[c] * invstd.data<double>()[c];
      bias.data<double>()[c] = beta.data<double>()[c] - mu * scale.data<double>()[c];
    }
    Tensor step_mean = step_sums ? plus(e.host_f64(in.step_mean), mean) : Tensor();
    Tensor step_var = step_sums ? plus(e.host_f64(in.step_var), var) : Tensor();
    std::vector<Tensor> out =
        outputs(std::move(scale), std::move(bias), std::move(mean), std::move(var), std::move(invstd));
    if (step_sums) {
      out.push_back(std::move(step_mean));
      out.push_back(std::move(step_var));
    }
    return out;
  };
  return {std::string("batchnorm_finalize") + (step_sums ? " with step sums" : ""), run, define};
}

enum class ResidualKind { none, plain, scaled };

// y = act(x * scale + bias [+ residual'] ), residual' = residual * residual_scale + residual_bias when scaled.
inline FusedCase scale_bias_act_case(ResidualKind residual, Activation act) {
  struct Inputs {
    Tensor x, scale, bias, residual, residual_scale, residual_bias;
  };
  const Shape xs = odd_shape, cs{1, xs.c, 1, 1};
  const auto inputs = [=](const Env& e) {
    return Inputs{
        e.in(random_tensor(xs, 221)), e.param(random_tensor(cs, 222, 0.5, 2.0)),  e.param(random_tensor(cs, 223)),
        e.in(random_tensor(xs, 224)), e.param(random_tensor(cs, 225, -1.5, 1.5)), e.param(random_tensor(cs, 226))};
  };
  const bool scaled = residual == ResidualKind::scaled;
  const auto run = [=](const Env& e) {
    Inputs in = inputs(e);
    Tensor y = e.out(xs);
    e.backend.scale_bias_act_forward(in.x, in.scale, in.bias, residual == ResidualKind::none ? nullptr : &in.residual,
                                     scaled ? &in.residual_scale : nullptr, scaled ? &in.residual_bias : nullptr, act,
                                     y);
    return outputs(std::move(y));
  };
  const auto define = [=](const Env& e) {
    const Inputs in = inputs(e);
    Tensor r = e.host_f64(in.residual);
    if (scaled)
      r = affine_act(r, e.host_f64(in.residual_scale), e.host_f64(in.residual_bias), nullptr, Activation::none);
    return outputs(affine_act(e.host_f64(in.x), e.host_f64(in.scale), e.host_f64(in.bias),
                              residual == ResidualKind::none ? nullptr : &r, act));
  };
  const std::string what = residual == ResidualKind::none    ? ""
                           : residual == ResidualKind::plain ? " +residual"
                                                             : " +residual*scale+bias";
  return {"scale_bias_act_forward" + what + (act == Activation::relu ? " relu" : ""), run, define};
}

// The inputs of the two backward operations: x and its batch norm + ReLU, the weights and the output gradient, and
// gradients to accumulate onto.
struct NormReluBackwardInputs {
  Tensor x, w, dy;
  NormReluTensors n;
  Tensor old_dw, old_dgamma, old_dbeta, dx_garbage;
};

inline NormReluBackwardInputs norm_relu_backward_inputs(const Env& e, const ConvGeometry& g) {
  const Shape xs = odd_shape, ws{odd_k, xs.c, g.kernel_h, g.kernel_w}, cs{1, xs.c, 1, 1};
  const Tensor x = random_tensor(xs, 231, -1.0, 2.0);
  return {e.in(x),
          e.in(random_tensor(ws, 232)),
          e.in(random_tensor(g.output_shape(xs, odd_k), 233)),
          in_env(e, batch_norm_relu_of(x, 234)),
          e.in(random_tensor(ws, 236)),
          e.param(random_tensor(cs, 237)),
          e.param(random_tensor(cs, 238)),
          e.in(random_tensor(xs, 239))};
}

// dw (+)= correlation of relu(x * scale + bias) and dy.
inline FusedCase backward_filter_case(ConvCase cc, GradMode mode) {
  const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
  const bool acc = mode == GradMode::accumulate;
  const auto run = [=](const Env& e) {
    NormReluBackwardInputs in = norm_relu_backward_inputs(e, g);
    Tensor dw = acc ? std::move(in.old_dw) : e.out(in.w.shape());
    e.backend.conv2d_backward_filter_norm_relu(in.x, in.n.view(), in.dy, dw, g, mode);
    return outputs(std::move(dw));
  };
  const auto define = [=](const Env& e) {
    const NormReluBackwardInputs in = norm_relu_backward_inputs(e, g);
    const NormReluTensors n = on_host(e, in.n);
    const Tensor t = affine_act(e.host_f64(in.x), n.scale, n.bias, nullptr, Activation::relu);
    Tensor dw = reference_conv_filter(t, e.host_f64(in.dy), in.w.shape(), g);
    return outputs(acc ? plus(e.host_f64(in.old_dw), dw) : std::move(dw));
  };
  return {"conv2d_backward_filter_norm_relu " + conv_case_name(cc) + (acc ? " accumulate" : ""), run, define};
}

// dx, dgamma (+)=, dbeta (+)= through the convolution, the ReLU and the batch norm.
inline FusedCase backward_data_case(ConvCase cc, GradMode mode) {
  const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
  const bool acc = mode == GradMode::accumulate;
  const auto run = [=](const Env& e) {
    NormReluBackwardInputs in = norm_relu_backward_inputs(e, g);
    const Shape cs{1, odd_shape.c, 1, 1};
    // dx is overwritten in both modes: it starts as garbage.
    Tensor dx = std::move(in.dx_garbage);
    Tensor dgamma = acc ? std::move(in.old_dgamma) : e.param_out(cs),
           dbeta = acc ? std::move(in.old_dbeta) : e.param_out(cs);
    e.backend.conv2d_backward_data_norm_relu(in.dy, in.w, in.x, in.n.view(), dx, dgamma, dbeta, g, mode);
    return outputs(std::move(dx), std::move(dgamma), std::move(dbeta));
  };
  const auto define = [=](const Env& e) {
    const NormReluBackwardInputs in = norm_relu_backward_inputs(e, g);
    const Tensor x = e.host_f64(in.x);
    const NormReluTensors n = on_host(e, in.n);
    EXPECT_GT(kink_margin(x, n), 1e-5) << "inputs this close to the ReLU's kink make the mask a matter of rounding";
    std::vector<Tensor> d = norm_relu_data_gradient(e.host_f64(in.dy), e.host_f64(in.w), x, n, g);
    if (acc) {
      d[1] = plus(e.host_f64(in.old_dgamma), d[1]);
      d[2] = plus(e.host_f64(in.old_dbeta), d[2]);
    }
    return d;
  };
  return {"conv2d_backward_data_norm_relu " + conv_case_name(cc) + (acc ? " accumulate" : ""), run, define};
}

inline std::vector<FusedCase> fused_norm_cases() {
  std::vector<FusedCase> cases;
  for (const ConvCase& c : fused_conv_cases())
    for (const bool norm_input : {false, true}) cases.push_back(conv_stats_case(c, norm_input));
  for (const bool step_sums : {false, true}) cases.push_back(finalize_case(step_sums));
  for (const ResidualKind r : {ResidualKind::none, ResidualKind::plain, ResidualKind::scaled})
    for (const Activation act : {Activation::none, Activation::relu}) cases.push_back(scale_bias_act_case(r, act));
  for (const ConvCase& c : fused_conv_cases())
    for (const GradMode mode : {GradMode::overwrite, GradMode::accumulate}) {
      cases.push_back(backward_filter_case(c, mode));
      cases.push_back(backward_data_case(c, mode));
    }
  return cases;
}

// The cases as ops, compared with the reference like every other operation.
inline NamedOps fused_norm_ops() {
  NamedOps ops;
  for (FusedCase& c : fused_norm_cases()) ops.emplace_back(std::move(c.name), std::move(c.run));
  return ops;
}

// Every case's outputs against the formulas: rel_diff < tol, and the formulas' outputs are not identically zero.
inline void expect_fused_norm_definitions(const Env& e, double tol) {
  for (const FusedCase& c : fused_norm_cases()) {
    const std::vector<Tensor> got = c.run(e);
    e.backend.synchronize();
    const std::vector<Tensor> want = c.define(e);
    ASSERT_EQ(got.size(), want.size()) << c.name;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].shape(), want[i].shape()) << c.name << ", output " << i;
      EXPECT_LT(rel_diff(e.host_f64(got[i]), want[i]), tol) << c.name << ", output " << i << " on " << e.backend.name();
      EXPECT_TRUE(
          std::any_of(want[i].span<double>().begin(), want[i].span<double>().end(), [](double v) { return v != 0.0; }))
          << c.name << ", output " << i << " is identically zero";
    }
  }
}

// A convolution, its batch norm (+ residual, which may have a batch norm of its own, + ReLU) and the convolution
// after it, the unfused way (conv2d_forward, batchnorm_forward_training, conv2d_backward_data, batchnorm_backward)
// and the fused way, on one backend: the same statistics, activations and gradients to rounding.
inline void expect_fused_matches_unfused(const Env& e, double tol) {
  Backend& be = e.backend;
  const ConvGeometry g{3, 3, 1, 1}, projection{1, 1, 1, 0}, next{3, 3, 2, 1};
  const Shape xs = odd_shape, ys = g.output_shape(xs, odd_k), cs{1, odd_k, 1, 1};
  const i64 count = ys.n * ys.h * ys.w;
  const double eps = 1e-5;
  const auto close = [&](const Tensor& a, const Tensor& b, const std::string& what) {
    EXPECT_LT(rel_diff(e.host_f64(a), e.host_f64(b)), tol) << what << " on " << be.name();
  };
  Tensor x = e.in(random_tensor(xs, 241)), w = e.in(random_tensor({odd_k, xs.c, 3, 3}, 242));
  Tensor wp = e.in(random_tensor({odd_k, xs.c, 1, 1}, 243));
  Tensor gamma = e.param(random_tensor(cs, 244, 0.5, 1.5)), beta = e.param(random_tensor(cs, 245, -0.5, 0.5));
  Tensor gamma_p = e.param(random_tensor(cs, 246, 0.5, 1.5)), beta_p = e.param(random_tensor(cs, 247, -0.5, 0.5));
  Tensor residual = e.in(random_tensor(ys, 248));

  // The unfused forward: statistics and outputs of the three kinds of batch norm at the end of a block.
  Tensor y = e.out(ys), r = e.out(ys);
  be.conv2d_forward(x, w, nullptr, y, g);
  be.conv2d_forward(x, wp, nullptr, r, projection);
  Tensor mean = e.param_out(cs), var = e.param_out(cs), invstd = e.param_out(cs);
  Tensor mean_p = e.param_out(cs), var_p = e.param_out(cs), invstd_p = e.param_out(cs);
  Tensor out_plain = e.out(ys), out_residual = e.out(ys), out_projected = e.out(ys), r_normalized = e.out(ys);
  be.batchnorm_forward_training(y, gamma, beta, nullptr, Activation::none, eps, out_plain, mean, var, invstd);
  be.batchnorm_forward_training(y, gamma, beta, &residual, Activation::relu, eps, out_residual, mean, var, invstd);
  be.batchnorm_forward_training(r, gamma_p, beta_p, nullptr, Activation::none, eps, r_normalized, mean_p, var_p,
                                invstd_p);
  be.batchnorm_forward_training(y, gamma, beta, &r_normalized, Activation::relu, eps, out_projected, mean, var, invstd);

  // The fused forward.
  Tensor fy = e.out(ys), fr = e.out(ys), sum = e.param_out(cs), sqsum = e.param_out(cs), sum_p = e.param_out(cs),
         sqsum_p = e.param_out(cs);
  be.conv2d_stats_forward(x, nullptr, w, fy, sum, sqsum, g);
  be.conv2d_stats_forward(x, nullptr, wp, fr, sum_p, sqsum_p, projection);
  Tensor scale = e.param_out(cs), bias = e.param_out(cs), fmean = e.param_out(cs), fvar = e.param_out(cs),
         finvstd = e.param_out(cs);
  Tensor scale_p = e.param_out(cs), bias_p = e.param_out(cs), fmean_p = e.param_out(cs), fvar_p = e.param_out(cs),
         finvstd_p = e.param_out(cs);
  be.batchnorm_finalize(sum, sqsum, count, gamma, beta, eps, scale, bias, fmean, fvar, finvstd, nullptr, nullptr);
  be.batchnorm_finalize(sum_p, sqsum_p, count, gamma_p, beta_p, eps, scale_p, bias_p, fmean_p, fvar_p, finvstd_p,
                        nullptr, nullptr);
  Tensor fout_plain = e.out(ys), fout_residual = e.out(ys), fout_projected = e.out(ys);
  be.scale_bias_act_forward(fy, scale, bias, nullptr, nullptr, nullptr, Activation::none, fout_plain);
  be.scale_bias_act_forward(fy, scale, bias, &residual, nullptr, nullptr, Activation::relu, fout_residual);
  be.scale_bias_act_forward(fy, scale, bias, &fr, &scale_p, &bias_p, Activation::relu, fout_projected);

  close(fy, y, "conv2d_stats_forward's y against conv2d_forward");
  close(fmean, mean, "batchnorm_finalize's mean");
  close(fvar, var, "batchnorm_finalize's unbiased var");
  close(finvstd, invstd, "batchnorm_finalize's invstd");
  close(fmean_p, mean_p, "batchnorm_finalize's mean (projection)");
  close(fvar_p, var_p, "batchnorm_finalize's unbiased var (projection)");
  close(finvstd_p, invstd_p, "batchnorm_finalize's invstd (projection)");
  close(fout_plain, out_plain, "scale_bias_act_forward against batchnorm_forward_training");
  close(fout_residual, out_residual, "scale_bias_act_forward +residual relu");
  close(fout_projected, out_projected, "scale_bias_act_forward +residual*scale+bias relu");

  // The next convolution reads relu(bn(y)): the unfused way from the written activation, the fused way from y and
  // a NormRelu of the unfused statistics (so that both ways cut with the same mask).
  Tensor activation = e.out(ys);
  be.batchnorm_forward_training(y, gamma, beta, nullptr, Activation::relu, eps, activation, mean, var, invstd);
  const Tensor host_gamma = e.host_f64(gamma), host_beta = e.host_f64(beta), host_mean = e.host_f64(mean),
               host_invstd = e.host_f64(invstd);
  NormReluTensors n{host_gamma.clone(),  host_beta.clone(),      host_mean.clone(),
                    host_invstd.clone(), Tensor(cs, DType::f64), Tensor(cs, DType::f64)};
  for (i64 c = 0; c < odd_k; ++c) {
    n.scale.data<double>()[c] = host_gamma.data<double>()[c] * host_invstd.data<double>()[c];
    n.bias.data<double>()[c] = host_beta.data<double>()[c] - host_mean.data<double>()[c] * n.scale.data<double>()[c];
  }
  EXPECT_GT(kink_margin(e.host_f64(y), n), 1e-5)
      << "y this close to the ReLU's kink makes the mask a matter of rounding";
  const NormReluTensors input_tensors = in_env(e, n);
  const NormRelu input = input_tensors.view();
  const Shape zs = next.output_shape(ys, 6);
  Tensor w2 = e.in(random_tensor({6, odd_k, 3, 3}, 249)), dz = e.in(random_tensor(zs, 250));
  Tensor z = e.out(zs), fz = e.out(zs), zsum = e.param_out({1, 6, 1, 1}), zsqsum = e.param_out({1, 6, 1, 1});
  be.conv2d_forward(activation, w2, nullptr, z, next);
  be.conv2d_stats_forward(y, &input, w2, fz, zsum, zsqsum, next);
  close(fz, z, "conv2d_stats_forward with a norm+relu input against conv2d_forward of the activation");

  Tensor dw2 = e.out(w2.shape()), d_activation = e.out(ys), dy = e.out(ys), dgamma = e.param_out(cs),
         dbeta = e.param_out(cs);
  be.conv2d_backward_filter(activation, dz, dw2, nullptr, next, GradMode::overwrite);
  be.conv2d_backward_data(dz, w2, d_activation, next, GradMode::overwrite);
  be.batchnorm_backward(y, activation, d_activation, gamma, beta, mean, invstd, Activation::relu, dy, nullptr, dgamma,
                        dbeta, GradMode::overwrite);
  Tensor fdw2 = e.out(w2.shape()), fdy = e.out(ys), fdgamma = e.param_out(cs), fdbeta = e.param_out(cs);
  be.conv2d_backward_filter_norm_relu(y, input, dz, fdw2, next, GradMode::overwrite);
  be.conv2d_backward_data_norm_relu(dz, w2, y, input, fdy, fdgamma, fdbeta, next, GradMode::overwrite);
  close(fdw2, dw2, "conv2d_backward_filter_norm_relu against conv2d_backward_filter of the activation");
  close(fdy, dy, "conv2d_backward_data_norm_relu's dx against conv2d_backward_data + batchnorm_backward");
  close(fdgamma, dgamma, "conv2d_backward_data_norm_relu's dgamma");
  close(fdbeta, dbeta, "conv2d_backward_data_norm_relu's dbeta");
}

}  // namespace cbednet::test
