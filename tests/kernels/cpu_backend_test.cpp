// What only the fast CpuBackend<float> and CpuBackend<double> do: chunked im2col, NCHW only, bitwise
// determinism over runs and thread counts, OpenBLAS facts. The per-op comparisons with the fp64 reference and
// the shared checks are in backend_suite_cpu_test.cpp.
#include "kernels/cpu/cpu_backend.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/reference_backend.hpp"
#include "tests/kernels/backend_checks.hpp"  // expect_shape_error
#include "tests/kernels/kernel_ops.hpp"

namespace cbednet::test {
namespace {

template <typename T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-12;
}

template <typename T>
class CpuBackendTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CpuBackendTest, Precisions);

TYPED_TEST(CpuBackendTest, Identity) {
  CpuBackend<TypeParam> be(0);
  EXPECT_EQ(be.name(), "cpu");
  EXPECT_EQ(be.device(), Device::host);
  EXPECT_EQ(be.dtype(), dtype_of<TypeParam>());
  EXPECT_EQ(be.param_dtype(), dtype_of<TypeParam>());
  EXPECT_EQ(be.layout(), Layout::nchw);
  Tensor t = be.allocate({2, 3, 4, 5});
  EXPECT_EQ(t.dtype(), dtype_of<TypeParam>());
  for (TypeParam v : t.template span<TypeParam>()) ASSERT_EQ(v, TypeParam{0});
}

// Small workspaces split a convolution into chunks of 1 and of 2 samples (N = 3: chunks 2 + 1).
TYPED_TEST(CpuBackendTest, ChunkedConvolutionMatchesReference) {
  ReferenceBackend ref;
  for (const ConvCase c : conv_cases()) {
    const ConvGeometry g{c.kernel, c.kernel, c.stride, c.pad};
    const Shape ys = g.output_shape(odd_shape, odd_k);
    const i64 per_sample = odd_shape.c * c.kernel * c.kernel * ys.h * ys.w;  // im2col elements of one sample
    for (const i64 limit : {i64{1}, 2 * per_sample}) {
      CpuBackend<TypeParam> fast(0);
      fast.set_workspace_limit(limit);
      expect_close(
          conv_op(c), Env{fast}, Env{ref}, tolerance<TypeParam>(),
          "conv k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " limit " + std::to_string(limit));
    }
  }
}

// The epilogue rounds as the separate passes do: conv2d_bias_act_forward is, bit for bit, conv2d_forward with the
// bias, then add and ReLU (so folding batch norms changes inference only by the fold's own rounding).
TYPED_TEST(CpuBackendTest, FusedBiasActivationEqualsTheSeparatePassesBitwise) {
  CpuBackend<TypeParam> be(0);
  const Env e{be};
  for (const ConvCase c : {ConvCase{3, 1, 1}, ConvCase{1, 2, 0}}) {
    const ConvGeometry g{c.kernel, c.kernel, c.stride, c.pad};
    const Shape ys = g.output_shape(odd_shape, odd_k);
    Tensor x = e.in(random_tensor(odd_shape, 1)), w = e.in(random_tensor({odd_k, odd_shape.c, c.kernel, c.kernel}, 2));
    Tensor b = e.in(random_tensor({1, odd_k, 1, 1}, 3)), r = e.in(random_tensor(ys, 4));
    Tensor fused = be.allocate(ys), separate = be.allocate(ys);
    be.conv2d_bias_act_forward(x, w, b, &r, Activation::relu, fused, g);
    be.conv2d_forward(x, w, &b, separate, g);
    be.add(separate, r, separate);
    be.relu_forward(separate, separate);
    const auto f = fused.template span<TypeParam>(), s = separate.template span<TypeParam>();
    ASSERT_EQ(f.size(), s.size());
    for (std::size_t i = 0; i < f.size(); ++i) ASSERT_EQ(f[i], s[i]) << "element " << i << ", kernel " << c.kernel;
    EXPECT_GT(std::count(f.begin(), f.end(), TypeParam{0}), 0);  // the ReLU clipped something
  }
}

TYPED_TEST(CpuBackendTest, LargerBatchNormMatchesReference) {
  CpuBackend<TypeParam> fast(0);
  ReferenceBackend ref;
  expect_close(batchnorm_training_op(Activation::relu, true, Shape{4, 3, 17, 19}), Env{fast}, Env{ref},
               tolerance<TypeParam>(), "batchnorm 4x3x17x19");
}

TYPED_TEST(CpuBackendTest, NhwcActivationsAreRejected) {
  CpuBackend<TypeParam> be(0);
  Tensor x = be.allocate({2, 3, 4, 5}, be.dtype(), Layout::nhwc), y = be.allocate({2, 3, 4, 5});
  expect_shape_error([&] { be.relu_forward(x, y); }, "relu_forward");
  // copy() converts layouts, so NHWC data can still be brought in.
  const Tensor src = random_tensor({2, 3, 4, 5}, 3);
  Tensor nhwc = be.allocate(src.shape(), DType::f64, Layout::nhwc);
  be.copy(src, nhwc);
  be.copy(nhwc, y);
  EXPECT_LT(rel_diff(y, src), 1e-7);
}

TYPED_TEST(CpuBackendTest, DropoutMaskEqualsReferenceMask) {
  CpuBackend<TypeParam> fast(0);
  ReferenceBackend ref;
  const Shape s{5, 4, 6, 7};
  const DropoutKey key{RandomStream(11, RngPurpose::dropout), 8, 31};
  Tensor x = random_tensor(s, 1), y(s, DType::f64), mask(s, DType::f64);
  ref.dropout_forward(x, 0.2, key, y, mask);
  const Env e{fast};
  Tensor fx = e.in(x), fy = e.out(s), fm = e.out(s);
  fast.dropout_forward(fx, 0.2, key, fy, fm);
  const Tensor m64 = as_f64_nchw(fm);
  for (i64 i = 0; i < s.count(); ++i)
    ASSERT_EQ(m64.data<double>()[i] == 0.0, mask.data<double>()[i] == 0.0) << "element " << i;
}

// Two runs give the same bits: convolutions (GEMM), batch norm, pooling and the loss.
TYPED_TEST(CpuBackendTest, RunsAreBitIdentical) {
  const auto run = [](int threads) {
    CpuBackend<TypeParam> be(threads);
    const Env e{be};
    std::vector<Tensor> all;
    for (auto& [name, op] : all_ops())
      for (Tensor& t : op(e)) all.push_back(std::move(t));
    return all;
  };
  const int saved = omp_get_max_threads();
  const std::vector<Tensor> a = run(0), b = run(0);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bit_equal(a[i], b[i])) << "output " << i;
  omp_set_num_threads(saved);
}

// Batch-norm statistics are summed per channel by one thread: the thread count does not change them.
TYPED_TEST(CpuBackendTest, BatchNormDoesNotDependOnThreadCount) {
  const int saved = omp_get_max_threads();
  const auto run = [](int threads) {
    CpuBackend<TypeParam> be(threads);
    return batchnorm_training_op(Activation::relu, true, Shape{4, 6, 13, 11})(Env{be});
  };
  const std::vector<Tensor> one = run(1), three = run(3);
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(bit_equal(one[i], three[i])) << "output " << i;
  omp_set_num_threads(saved);
}

TEST(CpuBackend, ReportsItsBlasKernel) {
  EXPECT_FALSE(CpuBackend<float>::blas_core().empty());
  const std::string advice = CpuBackend<float>::blas_advice();
  if (!advice.empty()) {
    EXPECT_NE(advice.find("OPENBLAS_CORETYPE="), std::string::npos) << advice;
  }
}

TEST(CpuBackend, NegativeThreadCountIsRejected) { EXPECT_THROW(CpuBackend<float>(-1), InvalidArgument); }

TEST(CpuBackend, MakeBackendBuildsTheCpuBackends) {
  EXPECT_EQ(make_backend({"cpu", "fp32"})->dtype(), DType::f32);
  EXPECT_EQ(make_backend({"cpu", "fp64"})->dtype(), DType::f64);
  EXPECT_EQ(make_backend({"cpu-reference", "fp64"})->name(), "cpu-reference");
}

}  // namespace
}  // namespace cbednet::test
