#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "core/tensor.hpp"

using namespace cbednet;

TEST(Tensor, AlignedZeroedHostStorage) {
  Tensor t({2, 3, 5, 7}, DType::f32);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw()) % 64, 0u);
  for (float v : t.span<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(t.bytes(), 2u * 3 * 5 * 7 * 4);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t({1, 12, 1, 1}, DType::f64);
  Tensor v = t.view({1, 4, 1, 1}, 8);
  v.data<double>()[0] = 3.5;
  EXPECT_EQ(t.data<double>()[8], 3.5);
  EXPECT_THROW(t.view({1, 5, 1, 1}, 8), ShapeError);
  EXPECT_THROW(t.data<float>(), Error);  // wrong dtype
}

TEST(Tensor, LayoutRoundTrip) {
  Tensor t({2, 3, 4, 5}, DType::f64);
  for (std::int64_t i = 0; i < t.count(); ++i) t.data<double>()[i] = static_cast<double>(i);
  const Tensor nhwc = t.to_layout(Layout::nhwc);
  EXPECT_EQ(nhwc.data<double>()[nhwc.index(1, 2, 3, 4)], t.data<double>()[t.index(1, 2, 3, 4)]);
  EXPECT_EQ(nhwc.data<double>()[1], t.data<double>()[t.index(0, 1, 0, 0)]);
  const Tensor back = nhwc.to_layout(Layout::nchw);
  for (std::int64_t i = 0; i < t.count(); ++i) EXPECT_EQ(back.data<double>()[i], static_cast<double>(i));
}

TEST(Rng, CounterBasedStreamsAreReproducibleAndDistinct) {
  const RandomStream a(42, RngPurpose::init, 7), b(42, RngPurpose::init, 7), c(42, RngPurpose::dropout, 7);
  double mean = 0;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(a.uniform(i), b.uniform(i));
    mean += a.uniform(i);
  }
  EXPECT_NEAR(mean / 10000, 0.5, 0.02);
  EXPECT_NE(a.uniform(0), c.uniform(0));
  double sq = 0;
  for (int i = 0; i < 10000; ++i) sq += a.normal(i) * a.normal(i);
  EXPECT_NEAR(sq / 10000, 1.0, 0.05);
}
