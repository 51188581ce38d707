// Checks that every CPU backend must pass, written once against the Backend interface: batch-norm
// statistics by definition, gradient modes, the SGD closed form and argument checks.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/kernels/kernel_test_util.hpp"

namespace cbednet::test {

inline void expect_batchnorm_statistics(Backend& be, double tol) {
  const Shape xs{3, 4, 5, 3}, cs{1, 4, 1, 1};
  const Env e{be, Layout::nchw};
  const Tensor x64 = random_tensor(xs, 5, -2.0, 3.0);
  Tensor x = e.in(x64), gamma = e.in(random_tensor(cs, 6)), beta = e.in(random_tensor(cs, 7));
  Tensor y = e.out(xs), mean = e.out(cs), var = e.out(cs), invstd = e.out(cs);
  const double eps = 1e-3;
  be.batchnorm_forward_training(x, gamma, beta, nullptr, Activation::none, eps, y, mean, var, invstd);
  const Tensor m64 = as_f64_nchw(mean), v64 = as_f64_nchw(var), i64t = as_f64_nchw(invstd);
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
  EXPECT_LT(rel_diff(dw_acc, expect_w), tol);
  EXPECT_LT(rel_diff(db_acc, expect_b), tol);
  EXPECT_TRUE(bit_equal(dw_over, dw));
  EXPECT_TRUE(bit_equal(db_over, db));

  // Convolution data gradient (a residual block adds its branch onto the shortcut's gradient).
  const Tensor w = random_tensor({2, 3, 3, 3}, 16), old_dx = random_tensor(xs, 17);
  Tensor wd = e.in(w), cdx = e.out(xs), cdx_acc = e.in(old_dx), cdx_over = e.in(old_dx);
  be.conv2d_backward_data(dy, wd, cdx, g, GradMode::overwrite);
  be.conv2d_backward_data(dy, wd, cdx_acc, g, GradMode::accumulate);
  be.conv2d_backward_data(dy, wd, cdx_over, g, GradMode::overwrite);
  Tensor expect_dx = e.in(old_dx);
  be.axpy(1.0, cdx, expect_dx);
  EXPECT_LT(rel_diff(cdx_acc, expect_dx), tol);
  EXPECT_TRUE(bit_equal(cdx_over, cdx));

  // Batch norm dgamma/dbeta.
  Tensor bx = e.in(random_tensor(xs, 5)), gamma = e.in(random_tensor(cs, 6, 0.5, 1.5)), beta = e.in(random_tensor(cs, 7));
  Tensor by = e.out(xs), mean = e.out(cs), var = e.out(cs), invstd = e.out(cs), bdy = e.in(random_tensor(xs, 8));
  be.batchnorm_forward_training(bx, gamma, beta, nullptr, Activation::relu, 1e-5, by, mean, var, invstd);
  Tensor dx = e.out(xs), dg = e.out(cs), dbeta = e.out(cs);
  be.batchnorm_backward(bx, by, bdy, gamma, beta, mean, invstd, Activation::relu, dx, nullptr, dg, dbeta,
                        GradMode::overwrite);
  const Tensor old_g = random_tensor(cs, 9), old_beta = random_tensor(cs, 10);
  Tensor dg_acc = e.in(old_g), dbeta_acc = e.in(old_beta), dx2 = e.in(random_tensor(xs, 11));
  be.batchnorm_backward(bx, by, bdy, gamma, beta, mean, invstd, Activation::relu, dx2, nullptr, dg_acc, dbeta_acc,
                        GradMode::accumulate);
  Tensor expect_g = e.in(old_g), expect_beta = e.in(old_beta);
  be.axpy(1.0, dg, expect_g);
  be.axpy(1.0, dbeta, expect_beta);
  EXPECT_LT(rel_diff(dg_acc, expect_g), tol);
  EXPECT_LT(rel_diff(dbeta_acc, expect_beta), tol);
  EXPECT_TRUE(bit_equal(dx2, dx)) << "activation gradients are always overwritten";

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
  EXPECT_LT(rel_diff(lw_acc, expect_lw), tol);
  EXPECT_LT(rel_diff(lb_acc, expect_lb), tol);
  EXPECT_TRUE(bit_equal(lw_over, ldw));
}

// Two steps from p = 1, v = 0 with grad 0.5, grad_scale 2, weight decay 0.1, lr 0.1, momentum 0.9, by hand:
//   step 1: g = 1.1, v = 1.1;           p = 0.89   (nesterov: p = 1 - 0.1 * (1.1 + 0.99) = 0.791)
//   step 2: g = 1 + 0.1 p, v = 0.99 + g; p -= 0.1 v  -> 0.6821   (nesterov: g = 1.0791, v = 2.0691 -> 0.496871)
inline void expect_sgd_closed_form(Backend& be, double tol) {
  const Env e{be, Layout::nchw};
  for (const bool nesterov : {false, true}) {
    Tensor p = e.out({1, 1, 1, 1}), g = e.out({1, 1, 1, 1}), v = e.out({1, 1, 1, 1});
    be.fill(p, 1.0);
    be.fill(g, 0.5);
    const SgdUpdate h{0.1, 0.9, 0.1, nesterov, 2.0};
    be.sgd_update(p, g, v, h);
    EXPECT_NEAR(as_f64_nchw(p).data<double>()[0], nesterov ? 0.791 : 0.89, tol);
    EXPECT_NEAR(as_f64_nchw(v).data<double>()[0], 1.1, tol);
    be.sgd_update(p, g, v, h);
    EXPECT_NEAR(as_f64_nchw(p).data<double>()[0], nesterov ? 0.496871 : 0.6821, tol) << "nesterov " << nesterov;
    EXPECT_NEAR(as_f64_nchw(v).data<double>()[0], nesterov ? 2.0691 : 2.079, tol);
  }
  // Without momentum or weight decay it is plain gradient descent.
  Tensor p = e.in(random_tensor({3, 2, 1, 1}, 1)), g = e.in(random_tensor({3, 2, 1, 1}, 2)), v = e.out({3, 2, 1, 1});
  const Tensor p0 = as_f64_nchw(p), g0 = as_f64_nchw(g);
  be.sgd_update(p, g, v, SgdUpdate{0.5, 0.0, 0.0, false, 1.0});
  const Tensor p1 = as_f64_nchw(p);
  for (i64 i = 0; i < 6; ++i)
    EXPECT_NEAR(p1.data<double>()[i], p0.data<double>()[i] - 0.5 * g0.data<double>()[i], tol);
}

// Every op rejects misshapen arguments with a ShapeError whose message names it.
template <typename F>
void expect_shape_error(F&& f, const std::string& op) {
  try {
    f();
    ADD_FAILURE() << op << ": no ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find(op + ":"), std::string::npos) << e.what();
  }
}

inline void expect_shape_errors(Backend& be) {
  const Env e{be, Layout::nchw};
  const ConvGeometry g{3, 3, 1, 1};
  Tensor x = e.out({2, 3, 5, 5}), w = e.out({4, 3, 3, 3}), w_bad = e.out({4, 2, 3, 3}), y = e.out({2, 4, 5, 5});
  Tensor y_bad = e.out({2, 4, 4, 5}), bias_bad = e.out({1, 3, 1, 1}), dw = e.out({4, 3, 3, 3});
  expect_shape_error([&] { be.conv2d_forward(x, w_bad, nullptr, y, g); }, "conv2d_forward");
  expect_shape_error([&] { be.conv2d_forward(x, w, nullptr, y_bad, g); }, "conv2d_forward");
  expect_shape_error([&] { be.conv2d_forward(x, w, &bias_bad, y, g); }, "conv2d_forward");
  expect_shape_error([&] { be.conv2d_forward(x, w, nullptr, y, ConvGeometry{9, 9, 1, 0}); }, "conv2d_forward");
  expect_shape_error([&] { be.conv2d_backward_data(y_bad, w, x, g, GradMode::overwrite); }, "conv2d_backward_data");
  expect_shape_error([&] { be.conv2d_backward_filter(x, y_bad, dw, nullptr, g, GradMode::overwrite); },
                     "conv2d_backward_filter");
  Tensor c3 = e.out({1, 3, 1, 1}), c4 = e.out({1, 4, 1, 1}), m = e.out({1, 3, 1, 1}), v = e.out({1, 3, 1, 1});
  Tensor is = e.out({1, 3, 1, 1}), xo = e.out({2, 3, 5, 5});
  expect_shape_error([&] { be.batchnorm_forward_training(x, c4, c3, nullptr, Activation::none, 1e-5, xo, m, v, is); },
                     "batchnorm_forward_training");
  expect_shape_error([&] { be.batchnorm_forward_training(x, c3, c3, &y, Activation::none, 1e-5, xo, m, v, is); },
                     "batchnorm_forward_training");
  expect_shape_error([&] { be.batchnorm_forward_inference(x, c3, c3, c4, v, nullptr, Activation::none, 1e-5, xo); },
                     "batchnorm_forward_inference");
  expect_shape_error([&] { be.batchnorm_backward(x, xo, y, c3, c3, m, is, Activation::none, xo, nullptr, c3, c3,
                                                 GradMode::overwrite); },
                     "batchnorm_backward");
  expect_shape_error([&] { be.relu_forward(x, y); }, "relu_forward");
  expect_shape_error([&] { be.relu_backward(x, xo, y); }, "relu_backward");
  expect_shape_error([&] { be.add(x, xo, y); }, "add");
  expect_shape_error([&] { be.dropout_forward(x, 0.5, DropoutKey{}, xo, y); }, "dropout_forward");
  expect_shape_error([&] { be.dropout_backward(x, xo, y); }, "dropout_backward");
  expect_shape_error([&] { be.maxpool_forward(x, y, PoolGeometry{3, 2, 1}); }, "maxpool_forward");
  Tensor pooled = e.out({2, 3, 3, 3});
  expect_shape_error([&] { be.maxpool_backward(x, pooled, y, xo, PoolGeometry{3, 2, 1}); }, "maxpool_backward");
  expect_shape_error([&] { be.global_avgpool_forward(x, y); }, "global_avgpool_forward");
  expect_shape_error([&] { be.global_avgpool_backward(c3, y); }, "global_avgpool_backward");
  Tensor lx = e.out({2, 6, 1, 1}), lw = e.out({5, 6, 1, 1}), lw_bad = e.out({5, 7, 1, 1}), ly = e.out({2, 5, 1, 1});
  expect_shape_error([&] { be.linear_forward(lx, lw_bad, nullptr, ly); }, "linear_forward");
  expect_shape_error([&] { be.linear_forward(x, lw, nullptr, ly); }, "linear_forward");
  expect_shape_error([&] { be.linear_backward_data(ly, lw_bad, x); }, "linear_backward_data");
  expect_shape_error([&] { be.linear_backward_weights(lx, ly, lw_bad, nullptr, GradMode::overwrite); },
                     "linear_backward_weights");
  Tensor labels({3, 1, 1, 1}, DType::i32), probs = e.out({2, 5, 1, 1}), losses = e.out({2, 1, 1, 1});
  expect_shape_error([&] { be.softmax_cross_entropy_forward(ly, labels, nullptr, 0.0, probs, losses); },
                     "softmax_cross_entropy_forward");
  expect_shape_error([&] { be.softmax_cross_entropy_backward(probs, labels, nullptr, 0.0, 1.0, ly); },
                     "softmax_cross_entropy_backward");
  expect_shape_error([&] { be.sgd_update(lw, lw_bad, lw, SgdUpdate{}); }, "sgd_update");
  // A dtype the backend does not compute in is a ShapeError too.
  Tensor wrong(x.shape(), be.dtype() == DType::f64 ? DType::f32 : DType::f64);
  expect_shape_error([&] { be.relu_forward(wrong, xo); }, "relu_forward");
}

}  // namespace cbednet::test
