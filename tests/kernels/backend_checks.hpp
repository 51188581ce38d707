// Checks written once against the Backend interface: batch-norm statistics by definition, gradient modes and the
// SGD closed form (run on the CPU backends), the calls every backend must reject and the flat-buffer operations
// against the per-parameter ones, bitwise (run on all, CUDA included).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/kernels/kernel_ops.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace cbednet::test {

inline void expect_batchnorm_statistics(Backend& be, double tol) {
  const Shape xs{3, 4, 5, 3}, cs{1, 4, 1, 1};
  const Env e{be, Layout::nchw};
  const Tensor x64 = random_tensor(xs, 5, -2.0, 3.0);
  Tensor x = e.in(x64), gamma = e.param(random_tensor(cs, 6)), beta = e.param(random_tensor(cs, 7));
  Tensor y = e.out(xs), mean = e.param_out(cs), var = e.param_out(cs), invstd = e.param_out(cs);
  const double eps = 1e-3;
  be.batchnorm_forward_training(x, gamma, beta, nullptr, Activation::none, eps, y, mean, var, invstd);
  const Tensor m64 = e.host_f64(mean), v64 = e.host_f64(var), i64t = e.host_f64(invstd);
  const i64 count = xs.n * xs.h * xs.w;
  for (i64 c = 0; c < xs.c; ++c) {
    double sum = 0.0;
    for (i64 n = 0; n < xs.n; ++n)
      for (i64 h = 0; h < xs.h; ++h)
        for (i64 w = 0; w < xs.w; ++w) sum += x64.data<double>()[x64.index(n, c, h, w)];
    const double mu = sum / static_cast<double>(count);
    double sq = 0.0;
    for (i64 n = 0; n < xs.n; ++n)
      for (i64 h = 0; h < xs.h; ++h)
        for (i64 w = 0; w < xs.w; ++w) sq += std::pow(x64.data<double>()[x64.index(n, c, h, w)] - mu, 2);
    EXPECT_NEAR(m64.data<double>()[c], mu, tol * std::max(1.0, std::abs(mu))) << "channel " << c;
    EXPECT_NEAR(v64.data<double>()[c], sq / static_cast<double>(count - 1), tol) << "unbiased var, channel " << c;
    EXPECT_NEAR(i64t.data<double>()[c], 1.0 / std::sqrt(sq / static_cast<double>(count) + eps), tol)
        << "invstd from the biased var, channel " << c;
  }
}

// Parameter gradients: accumulate adds to what is there, overwrite replaces it.
inline void expect_grad_modes(Backend& be, double tol) {
  const Env e{be, Layout::nchw};
  const Shape xs{2, 3, 5, 4}, cs{1, 3, 1, 1};
  const ConvGeometry g{3, 3, 1, 1};
  const Shape ys = g.output_shape(xs, 2);
  Tensor x = e.in(random_tensor(xs, 1)), dy = e.in(random_tensor(ys, 2));
  const Tensor old_w = random_tensor({2, 3, 3, 3}, 3), old_b = random_tensor({1, 2, 1, 1}, 4);
  // Fresh gradients.
  Tensor dw = e.out(old_w.shape()), db = e.out(old_b.shape());
  be.conv2d_backward_filter(x, dy, dw, &db, g, GradMode::overwrite);
  // Accumulated onto old values; overwrite onto old values.
  Tensor dw_acc = e.in(old_w), db_acc = e.in(old_b), dw_over = e.in(old_w), db_over = e.in(old_b);
  be.conv2d_backward_filter(x, dy, dw_acc, &db_acc, g, GradMode::accumulate);
  be.conv2d_backward_filter(x, dy, dw_over, &db_over, g, GradMode::overwrite);
  Tensor expect_w = e.in(old_w), expect_b = e.in(old_b);
  be.axpy(1.0, dw, expect_w);
  be.axpy(1.0, db, expect_b);
  // Compared on the host whatever the backend's device.
  const auto close = [&](const Tensor& a, const Tensor& b) { return rel_diff(e.host_f64(a), e.host_f64(b)); };
  const auto same_bits = [&](const Tensor& a, const Tensor& b) { return bit_equal(e.host_copy(a), e.host_copy(b)); };
  EXPECT_LT(close(dw_acc, expect_w), tol);
  EXPECT_LT(close(db_acc, expect_b), tol);
  EXPECT_TRUE(same_bits(dw_over, dw));
  EXPECT_TRUE(same_bits(db_over, db));

  // Convolution data gradient (a residual block adds its branch onto the shortcut's gradient).
  const Tensor w = random_tensor({2, 3, 3, 3}, 16), old_dx = random_tensor(xs, 17);
  Tensor wd = e.in(w), cdx = e.out(xs), cdx_acc = e.in(old_dx), cdx_over = e.in(old_dx);
  be.conv2d_backward_data(dy, wd, cdx, g, GradMode::overwrite);
  be.conv2d_backward_data(dy, wd, cdx_acc, g, GradMode::accumulate);
  be.conv2d_backward_data(dy, wd, cdx_over, g, GradMode::overwrite);
  Tensor expect_dx = e.in(old_dx);
  be.axpy(1.0, cdx, expect_dx);
  EXPECT_LT(close(cdx_acc, expect_dx), tol);
  EXPECT_TRUE(same_bits(cdx_over, cdx));

  // Batch norm dgamma/dbeta.
  Tensor bx = e.in(random_tensor(xs, 5)), gamma = e.param(random_tensor(cs, 6, 0.5, 1.5));
  Tensor beta = e.param(random_tensor(cs, 7));
  Tensor by = e.out(xs), mean = e.param_out(cs), var = e.param_out(cs), invstd = e.param_out(cs);
  Tensor bdy = e.in(random_tensor(xs, 8));
  be.batchnorm_forward_training(bx, gamma, beta, nullptr, Activation::relu, 1e-5, by, mean, var, invstd);
  Tensor dx = e.out(xs), dg = e.param_out(cs), dbeta = e.param_out(cs);
  be.batchnorm_backward(bx, by, bdy, gamma, beta, mean, invstd, Activation::relu, dx, nullptr, dg, dbeta,
                        GradMode::overwrite);
  const Tensor old_g = random_tensor(cs, 9), old_beta = random_tensor(cs, 10);
  Tensor dg_acc = e.param(old_g), dbeta_acc = e.param(old_beta), dx2 = e.in(random_tensor(xs, 11));
  be.batchnorm_backward(bx, by, bdy, gamma, beta, mean, invstd, Activation::relu, dx2, nullptr, dg_acc, dbeta_acc,
                        GradMode::accumulate);
  Tensor expect_g = e.param(old_g), expect_beta = e.param(old_beta);
  be.axpy(1.0, dg, expect_g);
  be.axpy(1.0, dbeta, expect_beta);
  EXPECT_LT(close(dg_acc, expect_g), tol);
  EXPECT_LT(close(dbeta_acc, expect_beta), tol);
  EXPECT_TRUE(same_bits(dx2, dx)) << "activation gradients are always overwritten";

  // Linear dw/db.
  Tensor lx = e.in(random_tensor({4, 6, 1, 1}, 12)), ldy = e.in(random_tensor({4, 5, 1, 1}, 13));
  Tensor ldw = e.out({5, 6, 1, 1}), ldb = e.out({1, 5, 1, 1});
  be.linear_backward_weights(lx, ldy, ldw, &ldb, GradMode::overwrite);
  const Tensor old_lw = random_tensor({5, 6, 1, 1}, 14), old_lb = random_tensor({1, 5, 1, 1}, 15);
  Tensor lw_acc = e.in(old_lw), lb_acc = e.in(old_lb), lw_over = e.in(old_lw);
  be.linear_backward_weights(lx, ldy, lw_acc, &lb_acc, GradMode::accumulate);
  be.linear_backward_weights(lx, ldy, lw_over, nullptr, GradMode::overwrite);
  Tensor expect_lw = e.in(old_lw), expect_lb = e.in(old_lb);
  be.axpy(1.0, ldw, expect_lw);
  be.axpy(1.0, ldb, expect_lb);
  EXPECT_LT(close(lw_acc, expect_lw), tol);
  EXPECT_LT(close(lb_acc, expect_lb), tol);
  EXPECT_TRUE(same_bits(lw_over, ldw));
}

// Two steps from p = 1, v = 0 with grad 0.5, grad_scale 2, weight decay 0.1, lr 0.1, momentum 0.9, by hand:
//   step 1: g = 1.1, v = 1.1;           p = 0.89   (nesterov: p = 1 - 0.1 * (1.1 + 0.99) = 0.791)
//   step 2: g = 1 + 0.1 p, v = 0.99 + g; p -= 0.1 v  -> 0.6821   (nesterov: g = 1.0791, v = 2.0691 -> 0.496871)
inline void expect_sgd_closed_form(Backend& be, double tol) {
  const Env e{be, Layout::nchw};
  for (const bool nesterov : {false, true}) {
    Tensor p = e.param_out({1, 1, 1, 1}), g = e.param_out({1, 1, 1, 1}), v = e.param_out({1, 1, 1, 1});
    be.fill(p, 1.0);
    be.fill(g, 0.5);
    const SgdUpdate h{0.1, 0.9, 0.1, nesterov, 2.0};
    be.sgd_update(p, g, v, h);
    EXPECT_NEAR(e.host_f64(p).data<double>()[0], nesterov ? 0.791 : 0.89, tol);
    EXPECT_NEAR(e.host_f64(v).data<double>()[0], 1.1, tol);
    be.sgd_update(p, g, v, h);
    EXPECT_NEAR(e.host_f64(p).data<double>()[0], nesterov ? 0.496871 : 0.6821, tol) << "nesterov " << nesterov;
    EXPECT_NEAR(e.host_f64(v).data<double>()[0], nesterov ? 2.0691 : 2.079, tol);
  }
  // Without momentum or weight decay it is plain gradient descent.
  Tensor p = e.param(random_tensor({3, 2, 1, 1}, 1)), g = e.param(random_tensor({3, 2, 1, 1}, 2));
  Tensor v = e.param_out({3, 2, 1, 1});
  const Tensor p0 = e.host_f64(p), g0 = e.host_f64(g);
  be.sgd_update(p, g, v, SgdUpdate{0.5, 0.0, 0.0, false, 1.0});
  const Tensor p1 = e.host_f64(p);
  for (i64 i = 0; i < 6; ++i) EXPECT_NEAR(p1.data<double>()[i], p0.data<double>()[i] - 0.5 * g0.data<double>()[i], tol);
}

// Whether `message` has `name` as a whole word (not part of a longer identifier such as sqsum for sum).
inline bool names_word(const std::string& message, const std::string& name) {
  const auto identifier = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; };
  for (std::size_t at = message.find(name); at != std::string::npos; at = message.find(name, at + 1)) {
    const std::size_t end = at + name.size();
    if ((at == 0 || !identifier(message[at - 1])) && (end == message.size() || !identifier(message[end]))) return true;
  }
  return false;
}

// Every op rejects bad arguments with an `Error` whose message names the op and, when given, the argument.
template <typename Error = ShapeError, typename F>
void expect_rejection(F&& f, const std::string& op, const std::string& argument = {}) {
  try {
    f();
    ADD_FAILURE() << op << ": no " << (std::is_same_v<Error, ShapeError> ? "ShapeError" : "InvalidArgument")
                  << (argument.empty() ? "" : " for " + argument);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(op + ":"), std::string::npos) << e.what();
    if (!argument.empty()) {
      EXPECT_TRUE(names_word(e.what(), argument)) << "should name " << argument << ": " << e.what();
    }
  }
}
template <typename F>
void expect_shape_error(F&& f, const std::string& op, const std::string& argument = {}) {
  expect_rejection<ShapeError>(std::forward<F>(f), op, argument);
}

// Misshapen arguments for the calls below, made in one environment (activations in its layout, per-channel
// tensors, probabilities and optimizer state in param_dtype()).
struct Misfits {
  explicit Misfits(const Env& e)
      : x(e.out({2, 3, 5, 5})),
        w(e.out({4, 3, 3, 3})),
        w_bad(e.out({4, 2, 3, 3})),
        y(e.out({2, 4, 5, 5})),
        y_bad(e.out({2, 4, 4, 5})),
        bias_bad(e.out({1, 3, 1, 1})),
        bias(e.out({1, 4, 1, 1})),
        dw(e.out({4, 3, 3, 3})),
        c3(e.param_out({1, 3, 1, 1})),
        c4(e.param_out({1, 4, 1, 1})),
        m(e.param_out({1, 3, 1, 1})),
        v(e.param_out({1, 3, 1, 1})),
        is(e.param_out({1, 3, 1, 1})),
        xo(e.out({2, 3, 5, 5})),
        pooled(e.out({2, 3, 3, 3})),
        lx(e.out({2, 6, 1, 1})),
        lw(e.out({5, 6, 1, 1})),
        lw_bad(e.out({5, 7, 1, 1})),
        ly(e.out({2, 5, 1, 1})),
        labels(e.in(labels_tensor(3, 5, 1))),
        probs(e.param_out({2, 5, 1, 1})),
        losses(e.param_out({2, 1, 1, 1})),
        p(e.param_out({5, 6, 1, 1})),
        p_bad(e.param_out({5, 7, 1, 1})),
        a3(e.out({1, 3, 1, 1})) {}
  Tensor x, w, w_bad, y, y_bad, bias_bad, bias, dw, c3, c4, m, v, is, xo, pooled, lx, lw, lw_bad, ly, labels, probs,
      losses, p, p_bad, a3;
};

// A call every backend must reject with an error naming `op` (and `argument`, where given); the message is the same
// on every backend.
struct BadCall {
  std::string op;
  std::function<void(Backend&, Misfits&)> call;
  std::string argument = {};
};

inline std::vector<BadCall> bad_shape_calls() {
  const ConvGeometry g{3, 3, 1, 1};
  const PoolGeometry pool{3, 2, 1};
  const auto none = Activation::none;
  const auto over = GradMode::overwrite;
  return {
      {"conv2d_forward", [=](Backend& be, Misfits& t) { be.conv2d_forward(t.x, t.w_bad, nullptr, t.y, g); }},
      {"conv2d_forward", [=](Backend& be, Misfits& t) { be.conv2d_forward(t.x, t.w, nullptr, t.y_bad, g); }},
      {"conv2d_forward", [=](Backend& be, Misfits& t) { be.conv2d_forward(t.x, t.w, &t.bias_bad, t.y, g); }},
      {"conv2d_forward",
       [=](Backend& be, Misfits& t) {
         be.conv2d_forward(t.x, t.w, nullptr, t.y, ConvGeometry{9, 9, 1, 0});
       }},
      {"conv2d_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_bias_act_forward(t.x, t.w, t.bias_bad, nullptr, none, t.y, g); }},
      {"conv2d_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_bias_act_forward(t.x, t.w, t.bias, &t.y_bad, none, t.y, g); }},
      {"conv2d_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_bias_act_forward(t.x, t.w_bad, t.bias, &t.y, none, t.y, g); }},
      {"conv2d_backward_data", [=](Backend& be, Misfits& t) { be.conv2d_backward_data(t.y_bad, t.w, t.x, g, over); }},
      {"conv2d_backward_filter",
       [=](Backend& be, Misfits& t) { be.conv2d_backward_filter(t.x, t.y_bad, t.dw, nullptr, g, over); }},
      {"batchnorm_forward_training",
       [=](Backend& be, Misfits& t) {
         be.batchnorm_forward_training(t.x, t.c4, t.c3, nullptr, none, 1e-5, t.xo, t.m, t.v, t.is);
       }},
      {"batchnorm_forward_training",
       [=](Backend& be, Misfits& t) {
         be.batchnorm_forward_training(t.x, t.c3, t.c3, &t.y, none, 1e-5, t.xo, t.m, t.v, t.is);
       }},
      {"batchnorm_forward_inference",
       [=](Backend& be, Misfits& t) {
         be.batchnorm_forward_inference(t.x, t.c3, t.c3, t.c4, t.v, nullptr, none, 1e-5, t.xo);
       }},
      {"batchnorm_backward",
       [=](Backend& be, Misfits& t) {
         be.batchnorm_backward(t.x, t.xo, t.y, t.c3, t.c3, t.m, t.is, none, t.xo, nullptr, t.c3, t.c3, over);
       }},
      {"relu_forward", [](Backend& be, Misfits& t) { be.relu_forward(t.x, t.y); }},
      {"relu_backward", [](Backend& be, Misfits& t) { be.relu_backward(t.x, t.xo, t.y); }},
      {"add", [](Backend& be, Misfits& t) { be.add(t.x, t.xo, t.y); }},
      {"dropout_forward", [](Backend& be, Misfits& t) { be.dropout_forward(t.x, 0.5, DropoutKey{}, t.xo, t.y); }},
      {"dropout_backward", [](Backend& be, Misfits& t) { be.dropout_backward(t.x, t.xo, t.y); }},
      {"maxpool_forward", [=](Backend& be, Misfits& t) { be.maxpool_forward(t.x, t.y, pool); }},
      {"maxpool_backward", [=](Backend& be, Misfits& t) { be.maxpool_backward(t.x, t.pooled, t.y, t.xo, pool); }},
      {"global_avgpool_forward", [](Backend& be, Misfits& t) { be.global_avgpool_forward(t.x, t.y); }},
      {"global_avgpool_backward", [](Backend& be, Misfits& t) { be.global_avgpool_backward(t.a3, t.y); }},
      {"linear_forward", [](Backend& be, Misfits& t) { be.linear_forward(t.lx, t.lw_bad, nullptr, t.ly); }},
      {"linear_forward", [](Backend& be, Misfits& t) { be.linear_forward(t.x, t.lw, nullptr, t.ly); }},
      {"linear_backward_data", [](Backend& be, Misfits& t) { be.linear_backward_data(t.ly, t.lw_bad, t.x); }},
      {"linear_backward_weights",
       [=](Backend& be, Misfits& t) { be.linear_backward_weights(t.lx, t.ly, t.lw_bad, nullptr, over); }},
      {"softmax_cross_entropy_forward",
       [](Backend& be, Misfits& t) {
         be.softmax_cross_entropy_forward(t.ly, t.labels, nullptr, 0.0, t.probs, t.losses);
       }},
      {"softmax_cross_entropy_backward",
       [](Backend& be, Misfits& t) { be.softmax_cross_entropy_backward(t.probs, t.labels, nullptr, 0.0, 1.0, t.ly); }},
      {"loss_statistics", [](Backend& be, Misfits& t) { be.loss_statistics(t.probs, t.p, t.labels, t.c3); }, "losses"},
      {"loss_statistics", [](Backend& be, Misfits& t) { be.loss_statistics(t.probs, t.losses, t.labels, t.c3); },
       "stats"},
      {"loss_statistics",
       [](Backend& be, Misfits& t) {
         Tensor stats = be.allocate({1, 2, 1, 1}, be.param_dtype(), Layout::nchw);
         be.loss_statistics(t.probs, t.losses, t.labels, stats);
       },
       "labels"},
      {"sgd_update", [](Backend& be, Misfits& t) { be.sgd_update(t.p, t.p_bad, t.p, SgdUpdate{}); }},
  };
}

// The fused batch-norm operations' misshapen calls (ShapeError). A NormRelu of x has six [3] tensors; `wrong`
// replaces one of them by a [4] tensor.
inline NormRelu norm_of_x(Misfits& t, int wrong = -1) {
  const auto pick = [&](int i, const Tensor& right) -> const Tensor& { return i == wrong ? t.c4 : right; };
  return {pick(0, t.c3), pick(1, t.c3), pick(2, t.m), pick(3, t.is), pick(4, t.c3), pick(5, t.c3)};
}

inline std::vector<BadCall> bad_fused_norm_calls() {
  const ConvGeometry g{3, 3, 1, 1};
  const auto relu = Activation::relu;
  const auto over = GradMode::overwrite;
  return {
      {"conv2d_stats_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_stats_forward(t.x, nullptr, t.w_bad, t.y, t.c4, t.c4, g); }, "w"},
      {"conv2d_stats_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_stats_forward(t.x, nullptr, t.w, t.y_bad, t.c4, t.c4, g); }, "y"},
      {"conv2d_stats_forward",
       [=](Backend& be, Misfits& t) { be.conv2d_stats_forward(t.x, nullptr, t.w, t.y, t.c4, t.c3, g); }, "sqsum"},
      {"conv2d_stats_forward",
       [=](Backend& be, Misfits& t) {
         const NormRelu input = norm_of_x(t, 4);
         be.conv2d_stats_forward(t.x, &input, t.w, t.y, t.c4, t.c4, g);
       },
       "input.scale"},
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 10, t.c4, t.c3, 1e-5, t.c3, t.c3, t.m, t.v, t.is, nullptr, nullptr);
       },
       "gamma"},
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 10, t.c3, t.c3, 1e-5, t.c3, t.c3, t.m, t.c4, t.is, nullptr, nullptr);
       },
       "var"},
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 10, t.c3, t.c3, 1e-5, t.c3, t.c3, t.m, t.v, t.is, &t.c3, &t.c4);
       },
       "step_var_sum"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) {
         be.scale_bias_act_forward(t.x, t.c3, t.c4, nullptr, nullptr, nullptr, relu, t.xo);
       },
       "bias"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) {
         be.scale_bias_act_forward(t.x, t.c3, t.c3, nullptr, nullptr, nullptr, relu, t.y);
       },
       "y"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.scale_bias_act_forward(t.x, t.c3, t.c3, &t.y, nullptr, nullptr, relu, t.xo); },
       "residual"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.scale_bias_act_forward(t.x, t.c3, t.c3, &t.xo, &t.c4, &t.c3, relu, t.xo); },
       "residual_scale"},
      {"conv2d_backward_filter_norm_relu",
       [=](Backend& be, Misfits& t) { be.conv2d_backward_filter_norm_relu(t.x, norm_of_x(t, 0), t.y, t.dw, g, over); },
       "input.gamma"},
      {"conv2d_backward_filter_norm_relu",
       [=](Backend& be, Misfits& t) { be.conv2d_backward_filter_norm_relu(t.x, norm_of_x(t), t.y_bad, t.dw, g, over); },
       "dy"},
      {"conv2d_backward_filter_norm_relu",
       [=](Backend& be, Misfits& t) { be.conv2d_backward_filter_norm_relu(t.x, norm_of_x(t), t.y, t.w_bad, g, over); },
       "dw"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y, t.w, t.x, norm_of_x(t, 2), t.xo, t.c3, t.c3, g, over);
       },
       "input.mean"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y, t.w, t.x, norm_of_x(t, 3), t.xo, t.c3, t.c3, g, over);
       },
       "input.invstd"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y, t.w, t.x, norm_of_x(t), t.xo, t.c4, t.c3, g, over);
       },
       "dgamma"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y, t.w, t.x, norm_of_x(t), t.y, t.c3, t.c3, g, over);
       },
       "dx"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y_bad, t.w, t.x, norm_of_x(t), t.xo, t.c3, t.c3, g, over);
       },
       "dy"},
      {"conv2d_backward_data_norm_relu",
       [=](Backend& be, Misfits& t) {
         be.conv2d_backward_data_norm_relu(t.y, t.w_bad, t.x, norm_of_x(t), t.xo, t.c3, t.c3, g, over);
       },
       "w"},
  };
}

// Calls of the fused batch-norm operations with arguments that are wrong but not in shape (InvalidArgument).
inline std::vector<BadCall> bad_fused_norm_arguments() {
  const auto relu = Activation::relu;
  return {
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 1, t.c3, t.c3, 1e-5, t.c3, t.c3, t.m, t.v, t.is, nullptr, nullptr);
       },
       "count"},
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 0, t.c3, t.c3, 1e-5, t.c3, t.c3, t.m, t.v, t.is, nullptr, nullptr);
       },
       "count"},
      {"batchnorm_finalize",
       [](Backend& be, Misfits& t) {
         be.batchnorm_finalize(t.c3, t.c3, 10, t.c3, t.c3, -1.0, t.c3, t.c3, t.m, t.v, t.is, nullptr, nullptr);
       },
       "eps"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.scale_bias_act_forward(t.x, t.c3, t.c3, &t.xo, &t.c3, nullptr, relu, t.xo); },
       "residual_bias"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.scale_bias_act_forward(t.x, t.c3, t.c3, &t.xo, nullptr, &t.c3, relu, t.xo); },
       "residual_scale"},
      {"scale_bias_act_forward",
       [=](Backend& be, Misfits& t) { be.scale_bias_act_forward(t.x, t.c3, t.c3, nullptr, &t.c3, &t.c3, relu, t.xo); },
       "residual"},
  };
}

inline void expect_shape_errors(const Env& e) {
  Misfits t(e);
  for (const BadCall& bad : bad_shape_calls()) expect_shape_error([&] { bad.call(e.backend, t); }, bad.op);
  for (const BadCall& bad : bad_fused_norm_calls())
    expect_shape_error([&] { bad.call(e.backend, t); }, bad.op, bad.argument);
  for (const BadCall& bad : bad_fused_norm_arguments())
    expect_rejection<InvalidArgument>([&] { bad.call(e.backend, t); }, bad.op, bad.argument);
  // A dtype the backend does not compute in is a ShapeError too.
  Tensor wrong = e.backend.allocate(t.x.shape(), e.backend.dtype() == DType::f64 ? DType::f32 : DType::f64, e.layout);
  expect_shape_error([&] { e.backend.relu_forward(wrong, t.xo); }, "relu_forward");
}

// What f throws (type and message), or "no exception".
template <typename F>
std::string rejection(F&& f) {
  try {
    f();
  } catch (const ShapeError& e) {
    return std::string("ShapeError: ") + e.what();
  } catch (const InvalidArgument& e) {
    return std::string("InvalidArgument: ") + e.what();
  }
  return "no exception";
}

// The same bad calls give the same exception and message on `test` as on `ref` (the fp64 reference).
inline void expect_same_rejections(const Env& test, const Env& ref) {
  Misfits on_test(test), on_ref(ref);
  for (const auto& calls : {bad_shape_calls(), bad_fused_norm_calls(), bad_fused_norm_arguments()})
    for (const BadCall& bad : calls)
      EXPECT_EQ(rejection([&] { bad.call(test.backend, on_test); }), rejection([&] { bad.call(ref.backend, on_ref); }))
          << bad.op << " " << bad.argument << " on " << test.backend.name();
  // Arguments that are not shapes: the drop probability, eps and label smoothing.
  const auto dropout = [](const Env& e, Misfits& t) { e.backend.dropout_forward(t.x, 1.0, DropoutKey{}, t.xo, t.xo); };
  EXPECT_EQ(rejection([&] { dropout(test, on_test); }), rejection([&] { dropout(ref, on_ref); }));
  const auto bn_eps = [](const Env& e, Misfits& t) {
    e.backend.batchnorm_forward_inference(t.x, t.c3, t.c3, t.m, t.v, nullptr, Activation::none, -1.0, t.xo);
  };
  EXPECT_EQ(rejection([&] { bn_eps(test, on_test); }), rejection([&] { bn_eps(ref, on_ref); }));
  const auto smoothing = [](const Env& e, Misfits& t) {
    e.backend.softmax_cross_entropy_backward(t.probs, t.labels, nullptr, 1.5, 1.0, t.ly);
  };
  EXPECT_EQ(rejection([&] { smoothing(test, on_test); }), rejection([&] { smoothing(ref, on_ref); }));
}

// The flat-buffer operations against the per-parameter ones on the same backend: sgd_update_segments is bit for bit
// one sgd_update per segment (weight decay on the decayed ones), copy_segments one copy per segment, in both
// directions of the mixed-precision copies, fold_running_statistics the scale, axpy and fill it replaces; elements
// between segments keep their bits. Bad segment lists and arguments are rejected.
inline void expect_flat_segments_bitwise(const Env& e) {
  Backend& be = e.backend;
  const std::vector<FlatSegment> segments = flat_case_segments();
  const auto per_segment = [&](auto&& run) {
    for (const FlatSegment& s : segments)
      if (s.count > 0) run(s, Shape{1, s.count, 1, 1});
  };
  // Bits of `after` equal `expected` inside the segments and `before` outside.
  const auto expect_bits = [&](const Tensor& after, const Tensor& expected, const Tensor& before, const char* what) {
    const Tensor a = e.host_copy(after), x = e.host_copy(expected), b = e.host_copy(before);
    EXPECT_TRUE(bit_equal(a, x)) << what << " on " << be.name();
    const std::size_t size = dtype_size(a.dtype());
    const auto* pa = static_cast<const std::byte*>(a.raw());
    const auto* pb = static_cast<const std::byte*>(b.raw());
    i64 next = 0;
    std::vector<std::pair<i64, i64>> gaps;
    for (const FlatSegment& s : segments) {
      gaps.emplace_back(next, s.offset);
      next = s.offset + s.count;
    }
    gaps.emplace_back(next, a.count());
    for (const auto& [from, to] : gaps)
      EXPECT_TRUE(std::equal(pa + from * size, pa + to * size, pb + from * size))
          << what << ": elements [" << from << ", " << to << ") outside the segments changed on " << be.name();
  };
  for (const bool nesterov : {false, true}) {
    const SgdUpdate h{0.05, 0.9, 1e-2, nesterov, 0.5};
    Tensor p = e.param(random_tensor(flat_case_shape, 131)), g = e.param(random_tensor(flat_case_shape, 132));
    Tensor v = e.param(random_tensor(flat_case_shape, 133));
    Tensor p_each = e.param(random_tensor(flat_case_shape, 131)), v_each = e.param(random_tensor(flat_case_shape, 133));
    const Tensor p0 = e.host_copy(p), v0 = e.host_copy(v);
    for (int step = 0; step < 2; ++step) {
      be.sgd_update_segments(p, g, v, segments, h);
      per_segment([&](const FlatSegment& s, Shape run) {
        Tensor pw = p_each.view(run, s.offset), vw = v_each.view(run, s.offset);
        SgdUpdate each = h;
        each.weight_decay = s.decayed ? h.weight_decay : 0.0;
        be.sgd_update(pw, g.view(run, s.offset), vw, each);
      });
    }
    expect_bits(p, p_each, p0, nesterov ? "sgd_update_segments param (nesterov)" : "sgd_update_segments param");
    expect_bits(v, v_each, v0, nesterov ? "sgd_update_segments momentum (nesterov)" : "sgd_update_segments momentum");
  }
  {
    // copy_segments(src, dst) against one copy() per segment into dst_each (equal to dst before).
    const auto expect_copy_segments = [&](const Tensor& src, Tensor& dst, Tensor& dst_each, const char* what) {
      const Tensor dst0 = e.host_copy(dst);
      be.copy_segments(src, dst, segments);
      per_segment([&](const FlatSegment& s, Shape run) {
        Tensor to = dst_each.view(run, s.offset);
        be.copy(src.view(run, s.offset), to);
      });
      expect_bits(dst, dst_each, dst0, what);
    };
    Tensor master = e.param(random_tensor(flat_case_shape, 141));
    Tensor compute = flat_act(e, 142), compute_each = flat_act(e, 142);
    expect_copy_segments(master, compute, compute_each, "copy_segments master -> compute");
    Tensor grad = e.param(random_tensor(flat_case_shape, 143)),
           grad_each = e.param(random_tensor(flat_case_shape, 143));
    expect_copy_segments(compute, grad, grad_each, "copy_segments compute -> grad");
  }
  {  // fold_running_statistics: scale, axpy and fill in one operation
    Tensor running = e.param(random_tensor(flat_case_shape, 151, 0.5, 2.0));
    Tensor running_each = e.param(random_tensor(flat_case_shape, 151, 0.5, 2.0));
    Tensor sums = e.param(random_tensor(flat_case_shape, 152)),
           sums_each = e.param(random_tensor(flat_case_shape, 152));
    be.fold_running_statistics(running, sums, 0.1, 3.0);
    be.scale(running_each, 1.0 - 0.1);
    be.axpy(0.1 / 3.0, sums_each, running_each);
    be.fill(sums_each, 0.0);
    EXPECT_TRUE(bit_equal(e.host_copy(running), e.host_copy(running_each)))
        << "fold_running_statistics on " << be.name();
    EXPECT_TRUE(bit_equal(e.host_copy(sums), e.host_copy(sums_each))) << "fold_running_statistics sums";
    EXPECT_THROW(be.fold_running_statistics(running, sums, 0.1, 0.0), InvalidArgument);
    EXPECT_THROW(be.fold_running_statistics(running, sums, 1.5, 1.0), InvalidArgument);
  }
  Tensor p = e.param_out(flat_case_shape), g = e.param_out(flat_case_shape), v = e.param_out(flat_case_shape);
  const std::vector<FlatSegment> overlapping{{0, 10, true}, {5, 10, false}}, outside{{90, 7, true}},
      negative{{-1, 2, false}};
  for (const auto* bad : {&overlapping, &outside, &negative}) {
    EXPECT_THROW(be.sgd_update_segments(p, g, v, *bad, SgdUpdate{}), ShapeError) << be.name();
    EXPECT_THROW(be.copy_segments(p, g, *bad), ShapeError) << be.name();
  }
}

}  // namespace cbednet::test
