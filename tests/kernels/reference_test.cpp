// The fp64 ReferenceBackend against definitions: layouts, hand-computed values, dropout masks and argument
// checks. Batch-norm statistics, gradient modes, the SGD closed form and the shape errors are checked for every
// CPU backend, the reference included, in backend_suite_cpu_test.cpp.
#include <gtest/gtest.h>

#include "kernels/cpu/reference_backend.hpp"
#include "tests/kernels/kernel_ops.hpp"

namespace cbednet::test {
namespace {

TEST(Reference, NhwcResultsEqualNchwResults) {
  ReferenceBackend be;
  const Env nchw{be, Layout::nchw}, nhwc{be, Layout::nhwc};
  for (const auto& [name, op] : all_ops()) {
    const std::vector<Tensor> a = op(nhwc), b = op(nchw);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_LT(rel_diff(a[i], b[i]), 1e-13) << name << ", output " << i;
      if (a[i].shape().c > 1 && a[i].shape().h * a[i].shape().w > 1) {
        EXPECT_EQ(a[i].layout(), Layout::nhwc) << name;
      }
    }
  }
}

TEST(Reference, MixedLayoutsAreAccepted) {
  ReferenceBackend be;
  const Shape s{2, 3, 4, 5};
  Tensor a = random_tensor(s, 1), b = random_tensor(s, 2).to_layout(Layout::nhwc), y(s, DType::f64);
  be.add(a, b, y);
  for (i64 c = 0; c < s.c; ++c)
    for (i64 h = 0; h < s.h; ++h)
      EXPECT_EQ(y.data<double>()[y.index(1, c, h, 2)],
                a.data<double>()[a.index(1, c, h, 2)] + b.data<double>()[b.index(1, c, h, 2)]);
}

TEST(Reference, ConvolutionMatchesHandComputedValue) {
  ReferenceBackend be;
  // x = 1..9 in a 3x3 image, w = 1 everywhere, pad 1: the centre output sums all nine, a corner four.
  Tensor x({1, 1, 3, 3}, DType::f64), w({1, 1, 3, 3}, DType::f64), y({1, 1, 3, 3}, DType::f64);
  for (i64 i = 0; i < 9; ++i) x.data<double>()[i] = static_cast<double>(i + 1);
  be.fill(w, 1.0);
  be.conv2d_forward(x, w, nullptr, y, {3, 3, 1, 1});
  EXPECT_EQ(y.data<double>()[4], 45.0);
  EXPECT_EQ(y.data<double>()[0], 1.0 + 2.0 + 4.0 + 5.0);
  EXPECT_EQ(y.data<double>()[8], 5.0 + 6.0 + 8.0 + 9.0);
}

TEST(Reference, MaxPoolGradientGoesToFirstMaximumAndPaddingNeverWins) {
  ReferenceBackend be;
  // All-negative input with ties: padding (implicitly -inf, never 0) must not win, and ties go to the first.
  Tensor x({1, 1, 2, 2}, DType::f64), y({1, 1, 1, 1}, DType::f64), dy({1, 1, 1, 1}, DType::f64);
  Tensor dx({1, 1, 2, 2}, DType::f64);
  for (double& v : x.span<double>()) v = -3.0;
  be.fill(dy, 1.0);
  const PoolGeometry g{3, 2, 1};
  be.maxpool_forward(x, y, g);
  be.maxpool_backward(x, y, dy, dx, g);
  EXPECT_EQ(y.data<double>()[0], -3.0);
  EXPECT_EQ(dx.data<double>()[0], 1.0);
  EXPECT_EQ(dx.data<double>()[1] + dx.data<double>()[2] + dx.data<double>()[3], 0.0);
}

TEST(Reference, DropoutMaskFollowsTheDocumentedFormula) {
  ReferenceBackend be;
  const Shape s{2, 3, 4, 5};
  const double p = 0.25;
  const DropoutKey key{RandomStream(42, RngPurpose::dropout), 17, 100};
  for (const Layout layout : {Layout::nchw, Layout::nhwc}) {
    Tensor x = random_tensor(s, 1).to_layout(layout), y(s, DType::f64, layout), mask(s, DType::f64, layout);
    be.dropout_forward(x, p, key, y, mask);
    for (i64 n = 0; n < s.n; ++n)
      for (i64 c = 0; c < s.c; ++c)
        for (i64 h = 0; h < s.h; ++h)
          for (i64 w = 0; w < s.w; ++w) {
            const auto global = static_cast<std::uint64_t>((100 + n) * s.per_sample() + (c * s.h + h) * s.w + w);
            const double expect = key.stream.uniform(17, global) >= p ? 1.0 / (1.0 - p) : 0.0;
            ASSERT_EQ(mask.data<double>()[mask.index(n, c, h, w)], expect) << n << c << h << w;
            ASSERT_EQ(y.data<double>()[y.index(n, c, h, w)], x.data<double>()[x.index(n, c, h, w)] * expect);
          }
  }
}

TEST(Reference, DropoutMaskDoesNotDependOnBatchSplit) {
  ReferenceBackend be;
  const Shape whole{6, 3, 4, 5}, half{3, 3, 4, 5};
  const double p = 0.5;
  DropoutKey key{RandomStream(7, RngPurpose::dropout), 3, 12};
  Tensor x = random_tensor(whole, 1), y(whole, DType::f64), mask(whole, DType::f64);
  be.dropout_forward(x, p, key, y, mask);
  for (i64 part = 0; part < 2; ++part) {
    DropoutKey k2 = key;
    k2.first_sample = key.first_sample + part * 3;
    Tensor xs = x.slice_batch(part * 3, 3), ys(half, DType::f64), ms(half, DType::f64);
    be.dropout_forward(xs, p, k2, ys, ms);
    EXPECT_TRUE(bit_equal(ms, mask.slice_batch(part * 3, 3))) << "half " << part;
  }
  // Another step draws another mask.
  key.step = 4;
  Tensor other(whole, DType::f64);
  be.dropout_forward(x, p, key, y, other);
  EXPECT_FALSE(bit_equal(other, mask));
}

TEST(Reference, DropoutKeepRateIsCloseToOneMinusP) {
  ReferenceBackend be;
  const Shape s{4, 8, 32, 32};
  for (const double p : {0.1, 0.5}) {
    Tensor x(s, DType::f64), y(s, DType::f64), mask(s, DType::f64);
    be.fill(x, 1.0);
    be.dropout_forward(x, p, DropoutKey{RandomStream(3, RngPurpose::dropout), 1, 0}, y, mask);
    i64 kept = 0;
    for (double m : mask.span<double>()) {
      ASSERT_TRUE(m == 0.0 || m == 1.0 / (1.0 - p));
      kept += m != 0.0;
    }
    // 32768 Bernoulli draws: the standard deviation of the rate is below 0.003.
    EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(s.count()), 1.0 - p, 0.015) << "p = " << p;
  }
}

TEST(Reference, OutOfRangeLabelsAndBadProbabilitiesAreRejected) {
  ReferenceBackend be;
  Tensor logits({2, 3, 1, 1}, DType::f64), labels({2, 1, 1, 1}, DType::i32), probs({2, 3, 1, 1}, DType::f64);
  Tensor losses({2, 1, 1, 1}, DType::f64);
  labels.data<std::int32_t>()[1] = 3;
  EXPECT_THROW(be.softmax_cross_entropy_forward(logits, labels, nullptr, 0.0, probs, losses), InvalidArgument);
  Tensor x({1, 1, 2, 2}, DType::f64), y({1, 1, 2, 2}, DType::f64), m({1, 1, 2, 2}, DType::f64);
  EXPECT_THROW(be.dropout_forward(x, 1.0, DropoutKey{}, y, m), InvalidArgument);
}

TEST(Reference, CopyConvertsDtypeAndLayout) {
  ReferenceBackend be;
  const Tensor src = random_tensor({2, 3, 4, 5}, 9);
  Tensor f32 = be.allocate(src.shape(), DType::f32, Layout::nhwc);
  be.copy(src, f32);
  Tensor back = be.allocate(src.shape(), DType::f64, Layout::nchw);
  be.copy(f32, back);
  EXPECT_TRUE(bit_equal(back, src));  // the inputs are fp32-representable
  EXPECT_EQ(f32.data<float>()[f32.index(1, 2, 3, 4)], static_cast<float>(src.data<double>()[src.index(1, 2, 3, 4)]));
  Tensor wrong = be.allocate({2, 3, 4, 4}, DType::f64, Layout::nchw);
  EXPECT_THROW(be.copy(src, wrong), ShapeError);
}

}  // namespace
}  // namespace cbednet::test
