// What only the CUDA backend has: its identity, copies across host/device, dtypes and layouts, the overflow check
// of loss scaling, and a caching allocator that stops growing. The per-op comparisons with the fp64 reference and
// the shared rejections run in backend_suite_cuda_test.cpp (the suite of tests/kernels/backend_suite.hpp).
// Each test skips when this machine has no CUDA device.
#include "kernels/cuda/cuda_backend.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include "tests/kernels/kernel_ops.hpp"  // device_case_random, Env

namespace cbednet::test {
namespace {

struct Mode {
  const char* precision;
  Layout layout;
};
// Test names and failure messages show the mode, not its bytes.
void PrintTo(const Mode& m, std::ostream* os) { *os << m.precision << (m.layout == Layout::nhwc ? " NHWC" : " NCHW"); }

class CudaOps : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    gpu_ = make_backend(BackendOptions{"cuda", GetParam().precision, -1, 0});
  }
  Env gpu() { return Env{*gpu_, GetParam().layout, nullptr}; }

  std::unique_ptr<Backend> gpu_;
};

TEST_P(CudaOps, Identity) {
  EXPECT_EQ(gpu_->name(), "cuda");
  EXPECT_EQ(gpu_->device(), Device::cuda);
  EXPECT_EQ(gpu_->layout(), Layout::nhwc);
  EXPECT_EQ(gpu_->param_dtype(), DType::f32);
  EXPECT_EQ(gpu_->dtype(), std::string(GetParam().precision) == "bf16" ? DType::bf16 : DType::f32);
}

TEST_P(CudaOps, CopyRoundTripsAcrossLayoutsAndDtypes) {
  const Tensor x = device_case_random({2, 5, 3, 4}, 1);
  Tensor dev = gpu_->allocate(x.shape(), DType::f32, Layout::nhwc);
  gpu_->copy(x, dev);  // f64 NCHW host -> f32 NHWC device
  Tensor back(x.shape(), DType::f32, Layout::nhwc);
  gpu_->copy(dev, back);
  const Tensor back_nchw = back.to_layout(Layout::nchw);
  for (i64 i = 0; i < x.count(); ++i) EXPECT_EQ(back_nchw.data<float>()[i], static_cast<float>(x.data<double>()[i]));
}

TEST_P(CudaOps, AllFiniteDetectsOverflow) {
  Tensor t = gpu_->allocate({2, 3, 4, 4});
  gpu_->fill(t, 1.5);
  EXPECT_TRUE(all_finite(*gpu_, t));
  Tensor host(Shape{2, 3, 4, 4}, DType::f64);
  host.data<double>()[17] = std::numeric_limits<double>::infinity();
  gpu_->copy(host, t);
  EXPECT_FALSE(all_finite(*gpu_, t));
}

// 100 repetitions of a forward/backward sequence: after the first, every block comes from the cache.
TEST_P(CudaOps, NoMemoryGrowthOverRepeatedSteps) {
  const Shape xs{4, 16, 8, 8}, ps{1, 16, 1, 1};
  const ConvGeometry g{3, 3, 1, 1};
  Env e = gpu();
  Tensor x = e.in(device_case_random(xs, 90)), w = e.in(device_case_random({16, 16, 3, 3}, 91, -0.2, 0.2));
  Tensor gamma = e.param(device_case_random(ps, 92, 0.5, 1.5)), beta = e.param(device_case_random(ps, 93));
  Tensor dw = e.out({16, 16, 3, 3}), dgamma = e.param_out(ps), dbeta = e.param_out(ps);
  CudaMemoryStats after_first{};
  for (int step = 0; step < 100; ++step) {
    Tensor y = e.out(xs), z = e.out(xs), mean = e.param_out(ps), var = e.param_out(ps), invstd = e.param_out(ps);
    gpu_->conv2d_forward(x, w, nullptr, y, g);
    gpu_->batchnorm_forward_training(y, gamma, beta, &x, Activation::relu, 1e-5, z, mean, var, invstd);
    Tensor dz = e.out(xs), dy = e.out(xs), dres = e.out(xs), dx = e.out(xs);
    gpu_->fill(dz, 0.01);
    gpu_->batchnorm_backward(y, z, dz, gamma, beta, mean, invstd, Activation::relu, dy, &dres, dgamma, dbeta,
                             GradMode::overwrite);
    gpu_->conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
    gpu_->conv2d_backward_filter(x, dy, dw, nullptr, g, GradMode::overwrite);
    gpu_->synchronize();
    if (step == 0) after_first = memory_stats(*gpu_);
  }
  const CudaMemoryStats end = memory_stats(*gpu_);
  EXPECT_EQ(end.cuda_malloc_calls, after_first.cuda_malloc_calls);
  EXPECT_EQ(end.reserved_bytes, after_first.reserved_bytes);
  EXPECT_EQ(end.peak_bytes, after_first.peak_bytes);
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaOps,
                         ::testing::Values(Mode{"fp32", Layout::nhwc}, Mode{"fp32", Layout::nchw},
                                           Mode{"bf16", Layout::nhwc}),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return std::string(info.param.precision) +
                                  (info.param.layout == Layout::nhwc ? "_nhwc" : "_nchw");
                         });

}  // namespace
}  // namespace cbednet::test
