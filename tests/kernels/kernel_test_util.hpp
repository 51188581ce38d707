// Helpers for the kernel tests, CPU and CUDA alike: random tensors, comparisons, and running one operation on
// any backend with inputs converted to that backend's dtypes and a chosen layout.
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

namespace cbednet::test {

using i64 = std::int64_t;

// Uniform values in [lo, hi), exactly representable in fp32 so that fp32 and fp64 backends see the same
// inputs. NCHW f64. `sub` picks another stream for the same seed (the cases that came from the GPU tests use 77).
inline Tensor random_tensor(Shape shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0, std::uint64_t sub = 0) {
  Tensor t(shape, DType::f64);
  const RandomStream rng(seed, RngPurpose::test, sub);
  double* d = t.data<double>();
  for (i64 i = 0; i < t.count(); ++i)
    d[i] = static_cast<double>(static_cast<float>(lo + (hi - lo) * rng.uniform(static_cast<std::uint64_t>(i))));
  return t;
}

// Values with |v| in [gap, 1): away from ReLU kinks.
inline Tensor random_away_from_zero(Shape shape, std::uint64_t seed, double gap = 0.05) {
  Tensor t = random_tensor(shape, seed, -1.0 + gap, 1.0 - gap);
  for (double& v : t.span<double>()) v = static_cast<double>(static_cast<float>(v < 0 ? v - gap : v + gap));
  return t;
}

// Class indices in 0..classes-1; `sub` and `step` pick the stream and counter (the GPU tests' cases: 78 and 3).
inline Tensor labels_tensor(i64 n, i64 classes, std::uint64_t seed, std::uint64_t sub = 0, std::uint64_t step = 7) {
  Tensor t(Shape{n, 1, 1, 1}, DType::i32);
  const RandomStream rng(seed, RngPurpose::test, sub);
  for (i64 i = 0; i < n; ++i)
    t.data<std::int32_t>()[i] =
        static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes), step, static_cast<std::uint64_t>(i)));
  return t;
}

inline Tensor as_f64_nchw(const Tensor& t) { return t.to_dtype(DType::f64).to_layout(Layout::nchw); }

// max |a - ref| / max |ref| over all elements (compared in NCHW, f64).
inline double rel_diff(const Tensor& a, const Tensor& ref) {
  EXPECT_EQ(a.shape(), ref.shape());
  const Tensor x = as_f64_nchw(a), y = as_f64_nchw(ref);
  double diff = 0.0, scale = 0.0;
  for (i64 i = 0; i < x.count(); ++i) {
    diff = std::max(diff, std::abs(x.data<double>()[i] - y.data<double>()[i]));
    scale = std::max(scale, std::abs(y.data<double>()[i]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

// sum_i a_i b_i over logical elements (any layouts).
inline double dot(const Tensor& a, const Tensor& b) {
  const Tensor x = as_f64_nchw(a), y = as_f64_nchw(b);
  double sum = 0.0;
  for (i64 i = 0; i < x.count(); ++i) sum += x.data<double>()[i] * y.data<double>()[i];
  return sum;
}

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.bytes() == b.bytes() &&
         std::equal(static_cast<const std::byte*>(a.raw()), static_cast<const std::byte*>(a.raw()) + a.bytes(),
                    static_cast<const std::byte*>(b.raw()));
}

// One backend with the dtypes and layout its tensors are given in. `quantizer` (the backend under test, when this
// is the reference's environment) rounds every input to that backend's dtypes first, so that only the arithmetic
// differs between the two (a no-op for fp32 and fp64 backends: the random inputs are fp32 values).
struct Env {
  Backend& backend;
  Layout layout = Layout::nchw;
  Backend* quantizer = nullptr;

  // t (on any device) as a host f64 NCHW tensor.
  Tensor host_f64(const Tensor& t) const {
    Tensor out(t.shape(), DType::f64);
    backend.copy(t, out);
    return out;
  }
  // t (on any device) as a host tensor of the same dtype and layout, for bitwise comparisons.
  Tensor host_copy(const Tensor& t) const {
    Tensor out(t.shape(), t.dtype(), t.layout());
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
  // The f64 NCHW tensor t as an activation or weight: the backend's dtype() in this layout (labels stay i32).
  Tensor in(const Tensor& t) const {
    const bool label = t.dtype() == DType::i32;
    const Tensor r = rounded(t, quantizer ? quantizer->dtype() : DType::f64);
    Tensor out = backend.allocate(t.shape(), label ? DType::i32 : backend.dtype(), label ? Layout::nchw : layout);
    backend.copy(r, out);
    return out;
  }
  // The f64 NCHW tensor t as a batch-norm parameter, statistic, class weight or optimizer state: param_dtype().
  Tensor param(const Tensor& t) const {
    const Tensor r = rounded(t, quantizer ? quantizer->param_dtype() : DType::f64);
    Tensor out = backend.allocate(t.shape(), backend.param_dtype(), Layout::nchw);
    backend.copy(r, out);
    return out;
  }
  Tensor out(Shape s) const { return backend.allocate(s, backend.dtype(), layout); }
  Tensor param_out(Shape s) const { return backend.allocate(s, backend.param_dtype(), Layout::nchw); }
};

// An operation under test: builds its inputs with env.in(...) / env.param(...), runs, returns its outputs.
using Op = std::function<std::vector<Tensor>(const Env&)>;

// Runs op on both environments and checks every output: rel_diff(test, ref) < tol, and the reference output is
// not identically zero (two all-zero results would agree for the wrong reason).
inline void expect_close(const Op& op, const Env& test, const Env& ref, double tol, const std::string& what) {
  const std::vector<Tensor> a = op(test);
  test.backend.synchronize();
  const std::vector<Tensor> b = op(ref);
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape(), b[i].shape()) << what << ", output " << i;
    const Tensor r = ref.host_f64(b[i]);
    EXPECT_LT(rel_diff(test.host_f64(a[i]), r), tol) << what << ", output " << i << " " << b[i].shape().str();
    double scale = 0.0;
    for (double v : r.span<double>()) scale = std::max(scale, std::abs(v));
    EXPECT_GT(scale, 0.0) << what << ", output " << i << " is identically zero";
  }
}

template <typename... Ts>
std::vector<Tensor> outputs(Ts&&... ts) {
  std::vector<Tensor> v;
  (v.push_back(std::move(ts)), ...);
  return v;
}

}  // namespace cbednet::test
