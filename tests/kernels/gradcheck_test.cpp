// Finite-difference checks of every backward operation of the fp64 ReferenceBackend.
//
// The objective is f = sum(dy_random * y) (or the scaled loss sum for the cross-entropy), so its gradient is
// exactly what the backward operation returns for that dy. Central differences with h = 1e-6 have a
// truncation error ~h^2 and a rounding error ~1e-16 |f| / h; inputs are chosen away from ReLU kinks and
// max-pool ties. The error measure is max |numeric - analytic| / max |analytic|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/reference_backend.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace cbednet::test {
namespace {

constexpr double h = 1e-6;
constexpr double tolerance = 1e-6;

// Perturbs every element of `input` (in memory order) and compares the central difference of `objective`
// with `analytic`, which must have input's shape and layout.
void expect_gradient(const std::function<double()>& objective, Tensor& input, const Tensor& analytic,
                     const std::string& what) {
  ASSERT_EQ(input.shape(), analytic.shape()) << what;
  ASSERT_EQ(input.layout(), analytic.layout()) << what;
  double* d = input.data<double>();
  const double* a = analytic.data<double>();
  double err = 0.0, scale = 0.0;
  for (i64 i = 0; i < input.count(); ++i) {
    const double saved = d[i];
    d[i] = saved + h;
    const double up = objective();
    d[i] = saved - h;
    const double down = objective();
    d[i] = saved;
    err = std::max(err, std::abs((up - down) / (2 * h) - a[i]));
    scale = std::max(scale, std::abs(a[i]));
  }
  ASSERT_GT(scale, 0.0) << what << ": the analytic gradient is zero";
  EXPECT_LT(err / scale, tolerance) << what << " (max abs error " << err << ", max gradient " << scale << ")";
}

struct ConvGradCase {
  Shape x;
  i64 k;
  int kernel, stride, pad;
  bool bias;
};

class ConvGradient : public ::testing::TestWithParam<ConvGradCase> {};

TEST_P(ConvGradient, MatchesFiniteDifferences) {
  const ConvGradCase p = GetParam();
  ReferenceBackend be;
  const ConvGeometry g{p.kernel, p.kernel, p.stride, p.pad};
  const Shape ys = g.output_shape(p.x, p.k);
  Tensor x = random_tensor(p.x, 1), w = random_tensor({p.k, p.x.c, p.kernel, p.kernel}, 2);
  Tensor b = random_tensor({1, p.k, 1, 1}, 3), dy = random_tensor(ys, 4);
  Tensor y(ys, DType::f64);
  auto f = [&] {
    be.conv2d_forward(x, w, p.bias ? &b : nullptr, y, g);
    return dot(dy, y);
  };
  Tensor dx(p.x, DType::f64), dw(w.shape(), DType::f64), db(b.shape(), DType::f64);
  be.conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
  be.conv2d_backward_filter(x, dy, dw, p.bias ? &db : nullptr, g, GradMode::overwrite);
  expect_gradient(f, x, dx, "dx");
  expect_gradient(f, w, dw, "dw");
  if (p.bias) expect_gradient(f, b, db, "dbias");
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, ConvGradient,
    ::testing::Values(ConvGradCase{{2, 3, 7, 6}, 4, 3, 1, 1, true}, ConvGradCase{{2, 3, 7, 7}, 2, 3, 2, 1, false},
                      ConvGradCase{{2, 2, 9, 8}, 3, 7, 2, 3, true}, ConvGradCase{{2, 3, 5, 5}, 4, 1, 1, 0, true},
                      ConvGradCase{{2, 3, 6, 7}, 2, 1, 2, 0, false}, ConvGradCase{{1, 2, 5, 6}, 3, 3, 1, 0, true},
                      ConvGradCase{{2, 2, 7, 5}, 3, 3, 2, 0, true}));

struct BnGradCase {
  Activation act;
  bool residual;
};

class BatchNormGradient : public ::testing::TestWithParam<BnGradCase> {};

TEST_P(BatchNormGradient, MatchesFiniteDifferences) {
  const BnGradCase p = GetParam();
  ReferenceBackend be;
  const Shape xs{3, 4, 3, 5}, cs{1, 4, 1, 1};
  Tensor x = random_tensor(xs, 11, -1.0, 2.0), gamma = random_tensor(cs, 12, 0.5, 1.5);
  Tensor beta = random_tensor(cs, 13, -0.3, 0.3), res = random_tensor(xs, 14), dy = random_tensor(xs, 15);
  Tensor y(xs, DType::f64), mean(cs, DType::f64), var(cs, DType::f64), invstd(cs, DType::f64);
  const Tensor* r = p.residual ? &res : nullptr;
  auto f = [&] {
    be.batchnorm_forward_training(x, gamma, beta, r, p.act, 1e-5, y, mean, var, invstd);
    return dot(dy, y);
  };
  f();
  Tensor dx(xs, DType::f64), dres(xs, DType::f64), dgamma(cs, DType::f64), dbeta(cs, DType::f64);
  be.batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, p.act, dx, p.residual ? &dres : nullptr, dgamma, dbeta,
                        GradMode::overwrite);
  if (p.act == Activation::relu) {  // the test is only meaningful if the ReLU cuts something
    i64 zeros = 0;
    for (double v : y.span<double>()) zeros += v == 0.0;
    EXPECT_GT(zeros, 0);
  }
  expect_gradient(f, x, dx, "dx");
  expect_gradient(f, gamma, dgamma, "dgamma");
  expect_gradient(f, beta, dbeta, "dbeta");
  if (p.residual) expect_gradient(f, res, dres, "dresidual");
}

INSTANTIATE_TEST_SUITE_P(Variants, BatchNormGradient,
                         ::testing::Values(BnGradCase{Activation::none, false}, BnGradCase{Activation::relu, false},
                                           BnGradCase{Activation::relu, true}, BnGradCase{Activation::none, true}));

// The fused batch-norm path of a residual block (core/model/resnet_blocks.cpp's fused path): conv with statistics,
// finalize, conv with the batch norm + ReLU applied to its input, finalize, then the last batch norm with a residual
// and ReLU. Its gradients come from batchnorm_backward (the last batch norm), conv2d_backward_filter_norm_relu and
// conv2d_backward_data_norm_relu (the middle one, through its batch statistics) and the plain convolution backward.
TEST(ReferenceGradient, FusedBatchNormBlock) {
  ReferenceBackend be;
  const ConvGeometry g1{3, 3, 1, 1}, g2{3, 3, 2, 1};
  const Shape xs{2, 3, 6, 5}, ys = g1.output_shape(xs, 4), zs = g2.output_shape(ys, 3);
  const Shape c4{1, 4, 1, 1}, c3{1, 3, 1, 1};
  const double eps = 1e-5;
  Tensor x = random_tensor(xs, 91), w1 = random_tensor({4, 3, 3, 3}, 92), w2 = random_tensor({3, 4, 3, 3}, 93);
  Tensor gamma1 = random_tensor(c4, 94, 0.5, 1.5), beta1 = random_tensor(c4, 95, -0.3, 0.3);
  Tensor gamma2 = random_tensor(c3, 96, 0.5, 1.5), beta2 = random_tensor(c3, 97, -0.3, 0.3);
  Tensor res = random_tensor(zs, 98), dout = random_tensor(zs, 99);
  Tensor y(ys, DType::f64), sum1(c4, DType::f64), sqsum1(c4, DType::f64), scale1(c4, DType::f64), bias1(c4, DType::f64),
      mean1(c4, DType::f64), var1(c4, DType::f64), invstd1(c4, DType::f64);
  Tensor z(zs, DType::f64), sum2(c3, DType::f64), sqsum2(c3, DType::f64), scale2(c3, DType::f64), bias2(c3, DType::f64),
      mean2(c3, DType::f64), var2(c3, DType::f64), invstd2(c3, DType::f64);
  Tensor out(zs, DType::f64);
  const NormRelu norm1{gamma1, beta1, mean1, invstd1, scale1, bias1};
  auto f = [&] {
    be.conv2d_stats_forward(x, nullptr, w1, y, sum1, sqsum1, g1);
    be.batchnorm_finalize(sum1, sqsum1, ys.n * ys.h * ys.w, gamma1, beta1, eps, scale1, bias1, mean1, var1, invstd1,
                          nullptr, nullptr);
    be.conv2d_stats_forward(y, &norm1, w2, z, sum2, sqsum2, g2);
    be.batchnorm_finalize(sum2, sqsum2, zs.n * zs.h * zs.w, gamma2, beta2, eps, scale2, bias2, mean2, var2, invstd2,
                          nullptr, nullptr);
    be.scale_bias_act_forward(z, scale2, bias2, &res, nullptr, nullptr, Activation::relu, out);
    return dot(dout, out);
  };
  f();
  // Both ReLUs cut something, and no input is within a finite-difference step of a kink.
  double margin1 = std::numeric_limits<double>::infinity(), margin2 = margin1;
  i64 cut1 = 0, cut2 = 0;
  for (i64 i = 0; i < y.count(); ++i) {
    const i64 c = (i / (ys.h * ys.w)) % ys.c;
    const double v = y.data<double>()[i] * scale1.data<double>()[c] + bias1.data<double>()[c];
    margin1 = std::min(margin1, std::abs(v));
    cut1 += v < 0.0;
  }
  for (i64 i = 0; i < out.count(); ++i) {
    const i64 c = (i / (zs.h * zs.w)) % zs.c;
    const double v = z.data<double>()[i] * scale2.data<double>()[c] + bias2.data<double>()[c] + res.data<double>()[i];
    margin2 = std::min(margin2, std::abs(v));
    cut2 += v < 0.0;
  }
  EXPECT_GT(cut1, 0);
  EXPECT_GT(cut2, 0);
  EXPECT_GT(margin1, 1e-4);
  EXPECT_GT(margin2, 1e-4);

  Tensor dz(zs, DType::f64), dres(zs, DType::f64), dgamma2(c3, DType::f64), dbeta2(c3, DType::f64);
  be.batchnorm_backward(z, out, dout, gamma2, beta2, mean2, invstd2, Activation::relu, dz, &dres, dgamma2, dbeta2,
                        GradMode::overwrite);
  Tensor dw2(w2.shape(), DType::f64), dy(ys, DType::f64), dgamma1(c4, DType::f64), dbeta1(c4, DType::f64);
  be.conv2d_backward_filter_norm_relu(y, norm1, dz, dw2, g2, GradMode::overwrite);
  be.conv2d_backward_data_norm_relu(dz, w2, y, norm1, dy, dgamma1, dbeta1, g2, GradMode::overwrite);
  Tensor dw1(w1.shape(), DType::f64), dx(xs, DType::f64);
  be.conv2d_backward_filter(x, dy, dw1, nullptr, g1, GradMode::overwrite);
  be.conv2d_backward_data(dy, w1, dx, g1, GradMode::overwrite);
  expect_gradient(f, x, dx, "fused block dx");
  expect_gradient(f, w1, dw1, "fused block dw1");
  expect_gradient(f, gamma1, dgamma1, "fused block dgamma1 (conv2d_backward_data_norm_relu)");
  expect_gradient(f, beta1, dbeta1, "fused block dbeta1 (conv2d_backward_data_norm_relu)");
  expect_gradient(f, w2, dw2, "fused block dw2 (conv2d_backward_filter_norm_relu)");
  expect_gradient(f, gamma2, dgamma2, "fused block dgamma2");
  expect_gradient(f, beta2, dbeta2, "fused block dbeta2");
  expect_gradient(f, res, dres, "fused block dresidual");
}

TEST(ReferenceGradient, Relu) {
  ReferenceBackend be;
  const Shape s{2, 3, 4, 5};
  Tensor x = random_away_from_zero(s, 21), dy = random_tensor(s, 22), y(s, DType::f64), dx(s, DType::f64);
  auto f = [&] {
    be.relu_forward(x, y);
    return dot(dy, y);
  };
  f();
  be.relu_backward(y, dy, dx);
  expect_gradient(f, x, dx, "relu dx");
}

TEST(ReferenceGradient, Add) {
  ReferenceBackend be;
  const Shape s{2, 3, 4, 5};
  Tensor a = random_tensor(s, 31), b = random_tensor(s, 32), dy = random_tensor(s, 33), y(s, DType::f64);
  auto f = [&] {
    be.add(a, b, y);
    return dot(dy, y);
  };
  expect_gradient(f, a, dy, "add da");
  expect_gradient(f, b, dy, "add db");
}

TEST(ReferenceGradient, MaxPool3x3Stride2Pad1) {
  ReferenceBackend be;
  const PoolGeometry g{3, 2, 1};
  const Shape xs{2, 3, 9, 8}, ys = g.output_shape(xs);
  Tensor x = random_tensor(xs, 41), dy = random_tensor(ys, 42), y(ys, DType::f64), dx(xs, DType::f64);
  auto f = [&] {
    be.maxpool_forward(x, y, g);
    return dot(dy, y);
  };
  f();
  be.maxpool_backward(x, y, dy, dx, g);
  expect_gradient(f, x, dx, "maxpool dx");
}

TEST(ReferenceGradient, GlobalAvgPool) {
  ReferenceBackend be;
  const Shape xs{2, 3, 5, 4}, ys{2, 3, 1, 1};
  Tensor x = random_tensor(xs, 51), dy = random_tensor(ys, 52), y(ys, DType::f64), dx(xs, DType::f64);
  auto f = [&] {
    be.global_avgpool_forward(x, y);
    return dot(dy, y);
  };
  be.global_avgpool_backward(dy, dx);
  expect_gradient(f, x, dx, "global avgpool dx");
}

TEST(ReferenceGradient, Linear) {
  ReferenceBackend be;
  const i64 n = 4, c = 6, k = 5;
  Tensor x = random_tensor({n, c, 1, 1}, 61), w = random_tensor({k, c, 1, 1}, 62), b = random_tensor({1, k, 1, 1}, 63);
  Tensor dy = random_tensor({n, k, 1, 1}, 64), y({n, k, 1, 1}, DType::f64);
  auto f = [&] {
    be.linear_forward(x, w, &b, y);
    return dot(dy, y);
  };
  Tensor dx(x.shape(), DType::f64), dw(w.shape(), DType::f64), db(b.shape(), DType::f64);
  be.linear_backward_data(dy, w, dx);
  be.linear_backward_weights(x, dy, dw, &db, GradMode::overwrite);
  expect_gradient(f, x, dx, "linear dx");
  expect_gradient(f, w, dw, "linear dw");
  expect_gradient(f, b, db, "linear db");
}

TEST(ReferenceGradient, DropoutWithFixedMask) {
  ReferenceBackend be;
  const Shape s{2, 3, 4, 5};
  const DropoutKey key{RandomStream(9, RngPurpose::dropout), 4, 2};
  Tensor x = random_tensor(s, 71), dy = random_tensor(s, 72), y(s, DType::f64), mask(s, DType::f64), dx(s, DType::f64);
  auto f = [&] {
    be.dropout_forward(x, 0.4, key, y, mask);
    return dot(dy, y);
  };
  f();
  be.dropout_backward(dy, mask, dx);
  expect_gradient(f, x, dx, "dropout dx");
}

TEST(ReferenceGradient, SoftmaxCrossEntropyWithSmoothingAndClassWeights) {
  ReferenceBackend be;
  const i64 n = 4, k = 6;
  const double scale = 0.37, smoothing = 0.1;
  Tensor logits = random_tensor({n, k, 1, 1}, 81, -2.0, 2.0), labels = labels_tensor(n, k, 82);
  Tensor cw = random_tensor({1, k, 1, 1}, 83, 0.5, 2.0);
  Tensor probs({n, k, 1, 1}, DType::f64), losses({n, 1, 1, 1}, DType::f64), dlogits({n, k, 1, 1}, DType::f64);
  auto f = [&] {
    be.softmax_cross_entropy_forward(logits, labels, &cw, smoothing, probs, losses);
    double sum = 0.0;
    for (double l : losses.span<double>()) sum += l;
    return scale * sum;
  };
  f();
  be.softmax_cross_entropy_backward(probs, labels, &cw, smoothing, scale, dlogits);
  expect_gradient(f, logits, dlogits, "softmax cross-entropy dlogits");
}

}  // namespace
}  // namespace cbednet::test
