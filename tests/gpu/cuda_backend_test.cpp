// Every CUDA backend operation, forward and backward, against the fp64 ReferenceBackend on random inputs:
// fp32 (TF32 off) to 1e-5 and bf16 to 2e-2 relative error, in the backend's NHWC layout and in NCHW.
// Each test skips when this machine has no CUDA device.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include "gpu_test_util.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

namespace cbednet::gputest {
namespace {

struct Mode {
  const char* precision;
  double tol;
  Layout layout;
};
// Test names and failure messages show the mode, not its bytes.
void PrintTo(const Mode& m, std::ostream* os) {
  *os << m.precision << (m.layout == Layout::nhwc ? " NHWC" : " NCHW") << " tol " << m.tol;
}

class CudaOps : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    gpu_ = make_backend(BackendOptions{"cuda", GetParam().precision, -1, 0});
  }
  Env gpu() { return Env{*gpu_, GetParam().layout, nullptr}; }
  Env ref() { return Env{ref_, Layout::nchw, gpu_.get()}; }
  void check(const Op& op, const std::string& what) { expect_close(op, gpu(), ref(), GetParam().tol, what); }

  std::unique_ptr<Backend> gpu_;
  ReferenceBackend ref_;
};

TEST_P(CudaOps, Identity) {
  EXPECT_EQ(gpu_->name(), "cuda");
  EXPECT_EQ(gpu_->device(), Device::cuda);
  EXPECT_EQ(gpu_->layout(), Layout::nhwc);
  EXPECT_EQ(gpu_->param_dtype(), DType::f32);
  EXPECT_EQ(gpu_->dtype(), std::string(GetParam().precision) == "bf16" ? DType::bf16 : DType::f32);
}

TEST_P(CudaOps, CopyRoundTripsAcrossLayoutsAndDtypes) {
  const Tensor x = random_tensor({2, 5, 3, 4}, 1);
  Tensor dev = gpu_->allocate(x.shape(), DType::f32, Layout::nhwc);
  gpu_->copy(x, dev);  // f64 NCHW host -> f32 NHWC device
  Tensor back(x.shape(), DType::f32, Layout::nhwc);
  gpu_->copy(dev, back);
  const Tensor back_nchw = back.to_layout(Layout::nchw);
  for (i64 i = 0; i < x.count(); ++i) EXPECT_EQ(back_nchw.data<float>()[i], static_cast<float>(x.data<double>()[i]));
}

TEST_P(CudaOps, FillScaleAxpy) {
  check([](const Env& e) {
    Tensor a = e.in(random_tensor({2, 8, 3, 3}, 2));
    Tensor b = e.in(random_tensor({2, 8, 3, 3}, 3));
    e.backend.scale(b, 0.5);
    e.backend.axpy(-2.0, a, b);
    Tensor f = e.out({1, 8, 2, 2});
    e.backend.fill(f, 0.25);
    return outputs(std::move(b), std::move(f));
  }, "fill/scale/axpy");
}

// 3 input channels (the stem) take the channel-padded path in 16-bit NHWC modes.
TEST_P(CudaOps, ConvolutionForwardAndBackward) {
  for (const i64 channels : {8, 3})
  for (const ConvGeometry g : {ConvGeometry{3, 3, 1, 1}, ConvGeometry{3, 3, 2, 1}, ConvGeometry{1, 1, 2, 0},
                               ConvGeometry{7, 7, 2, 3}}) {
    const Shape xs{2, channels, 9, 9};
    const Shape ws{16, channels, g.kernel_h, g.kernel_w};
    const Shape ys = g.output_shape(xs, 16);
    check([&](const Env& e) {
      Tensor x = e.in(random_tensor(xs, 10)), w = e.in(random_tensor(ws, 11, -0.3, 0.3));
      Tensor b = e.in(random_tensor({1, 16, 1, 1}, 12));
      Tensor y = e.out(ys);
      e.backend.conv2d_forward(x, w, &b, y, g);
      Tensor dy = e.in(random_tensor(ys, 13));
      // Accumulated onto, as a residual block's shortcut gradient; first, so that the algorithm search runs in
      // accumulate mode (it must not write over dx_sum).
      Tensor dx_sum = e.in(random_tensor(xs, 16));
      e.backend.conv2d_backward_data(dy, w, dx_sum, g, GradMode::accumulate);
      Tensor dx = e.out(xs);
      e.backend.conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
      Tensor dw = e.in(random_tensor(ws, 14));  // accumulated onto
      Tensor db = e.in(random_tensor({1, 16, 1, 1}, 15));
      e.backend.conv2d_backward_filter(x, dy, dw, &db, g, GradMode::accumulate);
      Tensor dw2 = e.out(ws);
      e.backend.conv2d_backward_filter(x, dy, dw2, nullptr, g, GradMode::overwrite);
      return outputs(std::move(y), std::move(dx), std::move(dw), std::move(db), std::move(dw2), std::move(dx_sum));
    }, "conv " + std::to_string(channels) + " channels, kernel " + std::to_string(g.kernel_h) + " stride " +
           std::to_string(g.stride));
  }
}

TEST_P(CudaOps, BatchNormTrainingForwardAndBackward) {
  struct Case {
    bool residual;
    Activation act;
  };
  for (const Case c : {Case{false, Activation::none}, Case{false, Activation::relu}, Case{true, Activation::relu},
                       Case{true, Activation::none}}) {
    const Shape xs{4, 16, 5, 5}, ps{1, 16, 1, 1};
    check([&](const Env& e) {
      Tensor x = e.in(random_tensor(xs, 20, -2.0, 3.0));
      Tensor r = e.in(random_tensor(xs, 21));
      Tensor gamma = e.param(random_tensor(ps, 22, 0.5, 1.5)), beta = e.param(random_tensor(ps, 23));
      Tensor y = e.out(xs), mean = e.param_out(ps), var = e.param_out(ps), invstd = e.param_out(ps);
      e.backend.batchnorm_forward_training(x, gamma, beta, c.residual ? &r : nullptr, c.act, 1e-5, y, mean, var,
                                           invstd);
      Tensor dy = e.in(random_tensor(xs, 24));
      Tensor dx = e.out(xs), dr = e.out(xs);
      Tensor dgamma = e.param(random_tensor(ps, 25)), dbeta = e.param(random_tensor(ps, 26));
      e.backend.batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, c.act, dx, c.residual ? &dr : nullptr,
                                   dgamma, dbeta, GradMode::accumulate);
      std::vector<Tensor> out = outputs(std::move(y), std::move(mean), std::move(var), std::move(invstd),
                                        std::move(dx), std::move(dgamma), std::move(dbeta));
      if (c.residual) out.push_back(std::move(dr));
      return out;
    }, std::string("batchnorm residual=") + (c.residual ? "yes" : "no") +
           " relu=" + (c.act == Activation::relu ? "yes" : "no"));
  }
}

TEST_P(CudaOps, BatchNormInference) {
  const Shape xs{3, 8, 4, 4}, ps{1, 8, 1, 1};
  check([&](const Env& e) {
    Tensor x = e.in(random_tensor(xs, 30)), r = e.in(random_tensor(xs, 31));
    Tensor gamma = e.param(random_tensor(ps, 32, 0.5, 1.5)), beta = e.param(random_tensor(ps, 33));
    Tensor rm = e.param(random_tensor(ps, 34)), rv = e.param(random_tensor(ps, 35, 0.5, 2.0));
    Tensor y1 = e.out(xs), y2 = e.out(xs);
    e.backend.batchnorm_forward_inference(x, gamma, beta, rm, rv, nullptr, Activation::none, 1e-5, y1);
    e.backend.batchnorm_forward_inference(x, gamma, beta, rm, rv, &r, Activation::relu, 1e-5, y2);
    return outputs(std::move(y1), std::move(y2));
  }, "batchnorm inference");
}

TEST_P(CudaOps, ReluAddDropout) {
  const Shape xs{3, 8, 4, 5};
  check([&](const Env& e) {
    Tensor x = e.in(random_tensor(xs, 40)), b = e.in(random_tensor(xs, 41)), dy = e.in(random_tensor(xs, 42));
    Tensor y = e.out(xs), dx = e.out(xs), s = e.out(xs);
    e.backend.relu_forward(x, y);
    e.backend.relu_backward(y, dy, dx);
    e.backend.add(x, b, s);
    DropoutKey key{RandomStream(1234, RngPurpose::dropout, 5), 17, 40};
    Tensor dy_out = e.out(xs), mask = e.out(xs), ddx = e.out(xs);
    e.backend.dropout_forward(x, 0.3, key, dy_out, mask);
    e.backend.dropout_backward(dy, mask, ddx);
    return outputs(std::move(y), std::move(dx), std::move(s), std::move(dy_out), std::move(mask), std::move(ddx));
  }, "relu/add/dropout");
}

TEST_P(CudaOps, Pooling) {
  for (const PoolGeometry g : {PoolGeometry{3, 2, 1}, PoolGeometry{2, 2, 0}}) {
    const Shape xs{2, 8, 9, 9};
    const Shape ys = g.output_shape(xs);
    check([&](const Env& e) {
      // Few distinct values, so that windows have ties and the first-maximum rule matters.
      Tensor xr = random_tensor(xs, 50);
      for (double& v : xr.span<double>()) v = std::round(v * 3.0) / 4.0;
      Tensor x = e.in(xr);
      Tensor y = e.out(ys), dy = e.in(random_tensor(ys, 51)), dx = e.out(xs);
      e.backend.maxpool_forward(x, y, g);
      e.backend.maxpool_backward(x, y, dy, dx, g);
      Tensor a = e.out({2, 8, 1, 1}), da = e.in(random_tensor({2, 8, 1, 1}, 52)), dax = e.out(xs);
      e.backend.global_avgpool_forward(x, a);
      e.backend.global_avgpool_backward(da, dax);
      return outputs(std::move(y), std::move(dx), std::move(a), std::move(dax));
    }, "pooling kernel " + std::to_string(g.kernel));
  }
}

TEST_P(CudaOps, Linear) {
  check([](const Env& e) {
    Tensor x = e.in(random_tensor({6, 24, 1, 1}, 60)), w = e.in(random_tensor({10, 24, 1, 1}, 61));
    Tensor b = e.in(random_tensor({1, 10, 1, 1}, 62)), y = e.out({6, 10, 1, 1});
    e.backend.linear_forward(x, w, &b, y);
    Tensor dy = e.in(random_tensor({6, 10, 1, 1}, 63)), dx = e.out({6, 24, 1, 1});
    e.backend.linear_backward_data(dy, w, dx);
    Tensor dw = e.in(random_tensor({10, 24, 1, 1}, 64)), db = e.in(random_tensor({1, 10, 1, 1}, 65));
    e.backend.linear_backward_weights(x, dy, dw, &db, GradMode::accumulate);
    return outputs(std::move(y), std::move(dx), std::move(dw), std::move(db));
  }, "linear");
}

TEST_P(CudaOps, SoftmaxCrossEntropy) {
  check([](const Env& e) {
    Tensor logits = e.in(random_tensor({5, 12, 1, 1}, 70, -3.0, 3.0));
    Tensor labels = e.in(labels_tensor(5, 12, 71));
    Tensor weights = e.param(random_tensor({1, 12, 1, 1}, 72, 0.5, 2.0));
    Tensor probs = e.param_out({5, 12, 1, 1}), losses = e.param_out({5, 1, 1, 1});
    e.backend.softmax_cross_entropy_forward(logits, labels, &weights, 0.1, probs, losses);
    Tensor dl = e.out({5, 12, 1, 1});
    e.backend.softmax_cross_entropy_backward(probs, labels, &weights, 0.1, 0.2, dl);
    Tensor probs2 = e.param_out({5, 12, 1, 1}), losses2 = e.param_out({5, 1, 1, 1});
    e.backend.softmax_cross_entropy_forward(logits, labels, nullptr, 0.0, probs2, losses2);
    return outputs(std::move(probs), std::move(losses), std::move(dl), std::move(losses2));
  }, "softmax cross-entropy");
}

TEST_P(CudaOps, SgdUpdate) {
  for (const bool nesterov : {false, true}) {
    check([&](const Env& e) {
      Tensor p = e.param(random_tensor({3, 4, 2, 2}, 80)), g = e.param(random_tensor({3, 4, 2, 2}, 81));
      Tensor v = e.param(random_tensor({3, 4, 2, 2}, 82));
      e.backend.sgd_update(p, g, v, SgdUpdate{0.1, 0.9, 1e-4, nesterov, 0.5});
      return outputs(std::move(p), std::move(v));
    }, nesterov ? "sgd nesterov" : "sgd");
  }
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
  Tensor x = e.in(random_tensor(xs, 90)), w = e.in(random_tensor({16, 16, 3, 3}, 91, -0.2, 0.2));
  Tensor gamma = e.param(random_tensor(ps, 92, 0.5, 1.5)), beta = e.param(random_tensor(ps, 93));
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
                         ::testing::Values(Mode{"fp32", 1e-5, Layout::nhwc}, Mode{"fp32", 1e-5, Layout::nchw},
                                           Mode{"bf16", 2e-2, Layout::nhwc}),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return std::string(info.param.precision) +
                                  (info.param.layout == Layout::nhwc ? "_nhwc" : "_nchw");
                         });

}  // namespace
}  // namespace cbednet::gputest
