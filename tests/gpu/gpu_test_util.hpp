// Helpers for the CUDA backend tests: one operation runs on the CUDA backend and on the fp64 ReferenceBackend
// with the same inputs (rounded to the GPU's dtype first, so only the arithmetic differs) and every output is
// compared as max |gpu - ref| / max |ref|.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet::gputest {

using i64 = std::int64_t;

// Uniform values in [lo, hi), exactly representable in fp32. NCHW f64.
inline Tensor random_tensor(Shape shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(shape, DType::f64);
  const RandomStream rng(seed, RngPurpose::test, 77);
  for (i64 i = 0; i < t.count(); ++i)
    t.data<double>()[i] = static_cast<double>(static_cast<float>(lo + (hi - lo) * rng.uniform(static_cast<std::uint64_t>(i))));
  return t;
}

inline Tensor labels_tensor(i64 n, i64 classes, std::uint64_t seed) {
  Tensor t(Shape{n, 1, 1, 1}, DType::i32);
  const RandomStream rng(seed, RngPurpose::test, 78);
  for (i64 i = 0; i < n; ++i)
    t.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes), 3, static_cast<std::uint64_t>(i)));
  return t;
}

// A backend and the layout its activations are given in. `quantizer` (the GPU backend, for the reference
// environment) rounds every activation input to the GPU's dtype before it is used.
struct Env {
  Backend& backend;
  Layout layout = Layout::nchw;
  Backend* quantizer = nullptr;

  Tensor host_f64(const Tensor& t) const {
    Tensor out(t.shape(), DType::f64);
    backend.copy(t, out);
    return out;
  }
  Tensor rounded(const Tensor& t, DType via) const {
    if (quantizer == nullptr || t.dtype() == DType::i32) return t.clone();
    Tensor dev = quantizer->allocate(t.shape(), via, Layout::nchw);
    quantizer->copy(t, dev);
    Tensor out(t.shape(), DType::f64);
    quantizer->copy(dev, out);
    return out;
  }
  // Activation / weight input in the backend's dtype and this layout (labels stay i32).
  Tensor in(const Tensor& t) const {
    const bool label = t.dtype() == DType::i32;
    const Tensor r = rounded(t, quantizer ? quantizer->dtype() : DType::f64);
    Tensor out = backend.allocate(t.shape(), label ? DType::i32 : backend.dtype(), label ? Layout::nchw : layout);
    backend.copy(r, out);
    return out;
  }
  // Batch-norm parameter / statistic / optimizer state in param_dtype().
  Tensor param(const Tensor& t) const {
    const Tensor r = rounded(t, quantizer ? quantizer->param_dtype() : DType::f64);
    Tensor out = backend.allocate(t.shape(), backend.param_dtype(), Layout::nchw);
    backend.copy(r, out);
    return out;
  }
  Tensor out(Shape s) const { return backend.allocate(s, backend.dtype(), layout); }
  Tensor param_out(Shape s) const { return backend.allocate(s, backend.param_dtype(), Layout::nchw); }
};

using Op = std::function<std::vector<Tensor>(const Env&)>;

template <typename... Ts>
std::vector<Tensor> outputs(Ts&&... ts) {
  std::vector<Tensor> v;
  (v.push_back(std::move(ts)), ...);
  return v;
}

// max |a - ref| / max |ref| in f64 NCHW; a and ref are host f64 tensors.
inline double rel_diff(const Tensor& a, const Tensor& ref, double* scale_out = nullptr) {
  double diff = 0.0, scale = 0.0;
  const Tensor x = a.to_layout(Layout::nchw), y = ref.to_layout(Layout::nchw);
  for (i64 i = 0; i < x.count(); ++i) {
    diff = std::max(diff, std::abs(x.data<double>()[i] - y.data<double>()[i]));
    scale = std::max(scale, std::abs(y.data<double>()[i]));
  }
  if (scale_out) *scale_out = scale;
  return scale > 0.0 ? diff / scale : diff;
}

// Runs op on both environments; every output must agree to tol and the reference must not be all zero.
inline void expect_close(const Op& op, const Env& gpu, const Env& ref, double tol, const std::string& what) {
  std::vector<Tensor> a = op(gpu);
  gpu.backend.synchronize();
  std::vector<Tensor> b = op(ref);
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape(), b[i].shape()) << what << ", output " << i;
    double scale = 0.0;
    const double d = rel_diff(gpu.host_f64(a[i]), ref.host_f64(b[i]), &scale);
    EXPECT_LT(d, tol) << what << ", output " << i << " " << b[i].shape().str();
    EXPECT_GT(scale, 0.0) << what << ", output " << i << " is identically zero";
  }
}

}  // namespace cbednet::gputest
