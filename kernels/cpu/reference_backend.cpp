#include "kernels/cpu/reference_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "kernels/cpu/host_ops.hpp"

namespace cbednet {
namespace {

using i64 = std::int64_t;
// Element (n, c, h, w) of an f64 host tensor, whatever its layout.
struct At {
  explicit At(const Tensor& t) : t_(&t), d_(const_cast<double*>(t.data<double>())) {}
  double& operator()(i64 n, i64 c, i64 h, i64 w) const { return d_[t_->index(n, c, h, w)]; }
  // Per-channel vectors and matrices: (1, c, 1, 1) and (n, c, 1, 1).
  double& operator()(i64 n, i64 c) const { return d_[t_->index(n, c, 0, 0)]; }

 private:
  const Tensor* t_;
  double* d_;  // not owned; constness of the tensor is enforced by which arguments the ops write
};

bool inside(i64 i, i64 n) { return i >= 0 && i < n; }

double apply(Activation act, double v) { return act == Activation::relu && v < 0.0 ? 0.0 : v; }

void set_or_add(double& dst, double v, GradMode mode) { dst = mode == GradMode::accumulate ? dst + v : v; }

}  // namespace

// ---- memory ---------------------------------------------------------------------------------------------------

Tensor ReferenceBackend::allocate(Shape shape, DType dtype, Layout layout) {
  return cpu::host_allocate(shape, dtype, layout);
}
void ReferenceBackend::copy(const Tensor& src, Tensor& dst) { cpu::host_copy(src, dst); }
void ReferenceBackend::fill(Tensor& t, double value) { cpu::host_fill(t, value); }
void ReferenceBackend::axpy(double alpha, const Tensor& x, Tensor& y) { cpu::host_axpy(alpha, x, y); }
void ReferenceBackend::scale(Tensor& t, double alpha) { cpu::host_scale(t, alpha); }

// ---- convolution ----------------------------------------------------------------------------------------------
// y[n,k,p,q] = bias[k] + sum_{c,r,s} x[n, c, p*stride - pad + r, q*stride - pad + s] * w[k,c,r,s]

// The reference fuses nothing: the convolution with its bias, then add and ReLU (Backend's default).
void ReferenceBackend::do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                                  const Tensor* residual, Activation act, Tensor& y,
                                                  const ConvGeometry& g) {
  Backend::do_conv2d_bias_act_forward(x, w, bias, residual, act, y, g);
}

void ReferenceBackend::do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                         const ConvGeometry& g) {
  const Shape xs = x.shape(), ys = y.shape();
  const At X(x), Wt(w), Y(y);
  for (i64 n = 0; n < ys.n; ++n)
    for (i64 k = 0; k < ys.c; ++k)
      for (i64 p = 0; p < ys.h; ++p)
        for (i64 q = 0; q < ys.w; ++q) {
          double sum = bias ? At(*bias)(0, k) : 0.0;
          for (i64 c = 0; c < xs.c; ++c)
            for (i64 r = 0; r < g.kernel_h; ++r)
              for (i64 s = 0; s < g.kernel_w; ++s) {
                const i64 h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (inside(h, xs.h) && inside(ww, xs.w)) sum += X(n, c, h, ww) * Wt(k, c, r, s);
              }
          Y(n, k, p, q) = sum;
        }
}

// Every product of the forward sends dy[n,k,p,q] * w[k,c,r,s] back to the input element it read.
void ReferenceBackend::do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                               GradMode mode) {
  if (mode == GradMode::accumulate) {  // computed apart and added once: dx + result, as a separate axpy would
    Tensor result(dx.shape(), dx.dtype(), dx.layout());
    do_conv2d_backward_data(dy, w, result, g, GradMode::overwrite);
    cpu::host_axpy(1.0, result, dx);
    return;
  }
  const Shape xs = dx.shape(), ys = dy.shape();
  const At DY(dy), Wt(w), DX(dx);
  cpu::host_fill(dx, 0.0);
  for (i64 n = 0; n < ys.n; ++n)
    for (i64 k = 0; k < ys.c; ++k)
      for (i64 p = 0; p < ys.h; ++p)
        for (i64 q = 0; q < ys.w; ++q)
          for (i64 c = 0; c < xs.c; ++c)
            for (i64 r = 0; r < g.kernel_h; ++r)
              for (i64 s = 0; s < g.kernel_w; ++s) {
                const i64 h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (inside(h, xs.h) && inside(ww, xs.w)) DX(n, c, h, ww) += DY(n, k, p, q) * Wt(k, c, r, s);
              }
}

void ReferenceBackend::do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                                 const ConvGeometry& g, GradMode mode) {
  const Shape xs = x.shape(), ys = dy.shape();
  const At X(x), DY(dy), DW(dw);
  for (i64 k = 0; k < ys.c; ++k)
    for (i64 c = 0; c < xs.c; ++c)
      for (i64 r = 0; r < g.kernel_h; ++r)
        for (i64 s = 0; s < g.kernel_w; ++s) {
          double sum = 0.0;
          for (i64 n = 0; n < ys.n; ++n)
            for (i64 p = 0; p < ys.h; ++p)
              for (i64 q = 0; q < ys.w; ++q) {
                const i64 h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (inside(h, xs.h) && inside(ww, xs.w)) sum += X(n, c, h, ww) * DY(n, k, p, q);
              }
          set_or_add(DW(k, c, r, s), sum, mode);
        }
  if (dbias) {
    const At DB(*dbias);
    for (i64 k = 0; k < ys.c; ++k) {
      double sum = 0.0;
      for (i64 n = 0; n < ys.n; ++n)
        for (i64 p = 0; p < ys.h; ++p)
          for (i64 q = 0; q < ys.w; ++q) sum += DY(n, k, p, q);
      set_or_add(DB(0, k), sum, mode);
    }
  }
}

// ---- batch norm -----------------------------------------------------------------------------------------------
// Per channel c over its m = N*H*W values:  z = (x - mean) * invstd,  y = act(gamma * z + beta [+ residual]).

void ReferenceBackend::do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                     const Tensor* residual, Activation act, double eps, Tensor& y,
                                                     Tensor& mean, Tensor& var, Tensor& invstd) {
  const Shape s = x.shape();
  const i64 m = s.n * s.h * s.w;
  const At X(x), Y(y), G(gamma), B(beta), M(mean), V(var), IS(invstd);
  for (i64 c = 0; c < s.c; ++c) {
    double sum = 0.0;
    for (i64 n = 0; n < s.n; ++n)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) sum += X(n, c, h, w);
    const double mu = m > 0 ? sum / static_cast<double>(m) : 0.0;
    double sq = 0.0;
    for (i64 n = 0; n < s.n; ++n)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) sq += (X(n, c, h, w) - mu) * (X(n, c, h, w) - mu);
    const double biased = m > 0 ? sq / static_cast<double>(m) : 0.0;
    M(0, c) = mu;
    // A single value has no unbiased variance; report 0 rather than 0/0.
    V(0, c) = m > 1 ? sq / static_cast<double>(m - 1) : 0.0;
    IS(0, c) = 1.0 / std::sqrt(biased + eps);
    for (i64 n = 0; n < s.n; ++n)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) {
          double v = G(0, c) * (X(n, c, h, w) - mu) * IS(0, c) + B(0, c);
          if (residual) v += At(*residual)(n, c, h, w);
          Y(n, c, h, w) = apply(act, v);
        }
  }
}

void ReferenceBackend::do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                      const Tensor& running_mean, const Tensor& running_var,
                                                      const Tensor* residual, Activation act, double eps, Tensor& y) {
  const Shape s = x.shape();
  const At X(x), Y(y), G(gamma), B(beta), M(running_mean), V(running_var);
  for (i64 n = 0; n < s.n; ++n)
    for (i64 c = 0; c < s.c; ++c)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) {
          double v = G(0, c) * (X(n, c, h, w) - M(0, c)) / std::sqrt(V(0, c) + eps) + B(0, c);
          if (residual) v += At(*residual)(n, c, h, w);
          Y(n, c, h, w) = apply(act, v);
        }
}

// With g = dy masked by the ReLU (y > 0):  dbeta = sum g,  dgamma = sum g z,
//   dx = gamma * invstd * (g - dbeta / m - z * dgamma / m),  dresidual = g.
void ReferenceBackend::do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                             const Tensor& /*beta*/, const Tensor& mean, const Tensor& invstd,
                                             Activation act, Tensor& dx, Tensor* dresidual, Tensor& dgamma,
                                             Tensor& dbeta, GradMode mode) {
  const Shape s = x.shape();
  const double m = static_cast<double>(s.n * s.h * s.w);
  const At X(x), Y(y), DY(dy), G(gamma), M(mean), IS(invstd), DX(dx), DG(dgamma), DB(dbeta);
  auto masked = [&](i64 n, i64 c, i64 h, i64 w) {
    return act == Activation::relu && !(Y(n, c, h, w) > 0.0) ? 0.0 : DY(n, c, h, w);
  };
  for (i64 c = 0; c < s.c; ++c) {
    double sum_g = 0.0, sum_gz = 0.0;
    for (i64 n = 0; n < s.n; ++n)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) {
          sum_g += masked(n, c, h, w);
          sum_gz += masked(n, c, h, w) * (X(n, c, h, w) - M(0, c)) * IS(0, c);
        }
    for (i64 n = 0; n < s.n; ++n)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) {
          const double z = (X(n, c, h, w) - M(0, c)) * IS(0, c);
          const double g = masked(n, c, h, w);
          DX(n, c, h, w) = G(0, c) * IS(0, c) * (g - sum_g / m - z * sum_gz / m);
          if (dresidual) At{*dresidual}(n, c, h, w) = g;
        }
    set_or_add(DG(0, c), sum_gz, mode);
    set_or_add(DB(0, c), sum_g, mode);
  }
}

// ---- elementwise ----------------------------------------------------------------------------------------------

namespace {
// Calls f(n, c, h, w) for every element of shape s.
template <typename F>
void for_each(const Shape& s, F&& f) {
  for (i64 n = 0; n < s.n; ++n)
    for (i64 c = 0; c < s.c; ++c)
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) f(n, c, h, w);
}
}  // namespace

void ReferenceBackend::do_relu_forward(const Tensor& x, Tensor& y) {
  const At X(x), Y(y);
  for_each(x.shape(), [&](i64 n, i64 c, i64 h, i64 w) { Y(n, c, h, w) = X(n, c, h, w) > 0.0 ? X(n, c, h, w) : 0.0; });
}

void ReferenceBackend::do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const At Y(y), DY(dy), DX(dx);
  for_each(y.shape(), [&](i64 n, i64 c, i64 h, i64 w) { DX(n, c, h, w) = Y(n, c, h, w) > 0.0 ? DY(n, c, h, w) : 0.0; });
}

void ReferenceBackend::do_add(const Tensor& a, const Tensor& b, Tensor& y) {
  const At A(a), B(b), Y(y);
  for_each(a.shape(), [&](i64 n, i64 c, i64 h, i64 w) { Y(n, c, h, w) = A(n, c, h, w) + B(n, c, h, w); });
}

void ReferenceBackend::do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) {
  const Shape s = x.shape();
  const At X(x), Y(y), MASK(mask);
  for_each(s, [&](i64 n, i64 c, i64 h, i64 w) {
    const i64 sample = key.first_sample + n;
    const i64 element = (c * s.h + h) * s.w + w;  // NCHW offset within the sample, whatever the layout
    const double u = key.stream.uniform(key.step, static_cast<std::uint64_t>(sample * s.per_sample() + element));
    MASK(n, c, h, w) = u >= p ? 1.0 / (1.0 - p) : 0.0;
    Y(n, c, h, w) = X(n, c, h, w) * MASK(n, c, h, w);
  });
}

void ReferenceBackend::do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  const At DY(dy), MASK(mask), DX(dx);
  for_each(dy.shape(), [&](i64 n, i64 c, i64 h, i64 w) { DX(n, c, h, w) = DY(n, c, h, w) * MASK(n, c, h, w); });
}

// ---- pooling --------------------------------------------------------------------------------------------------

namespace {
// Input position (h, w) of the first maximum, in row-major window order, of output (n, c, p, q); padded
// positions are skipped, so they never win.
std::pair<i64, i64> window_argmax(const At& X, const Shape& xs, i64 n, i64 c, i64 p, i64 q, const PoolGeometry& g) {
  std::pair<i64, i64> best{-1, -1};
  double best_value = -std::numeric_limits<double>::infinity();
  for (i64 r = 0; r < g.kernel; ++r)
    for (i64 s = 0; s < g.kernel; ++s) {
      const i64 h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
      if (!inside(h, xs.h) || !inside(w, xs.w)) continue;
      if (best.first < 0 || X(n, c, h, w) > best_value) {
        best = {h, w};
        best_value = X(n, c, h, w);
      }
    }
  return best;
}
}  // namespace

void ReferenceBackend::do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) {
  const At X(x), Y(y);
  for_each(y.shape(), [&](i64 n, i64 c, i64 p, i64 q) {
    const auto [h, w] = window_argmax(X, x.shape(), n, c, p, q, g);
    Y(n, c, p, q) = X(n, c, h, w);
  });
}

void ReferenceBackend::do_maxpool_backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx,
                                           const PoolGeometry& g) {
  const At X(x), DY(dy), DX(dx);
  cpu::host_fill(dx, 0.0);
  for_each(dy.shape(), [&](i64 n, i64 c, i64 p, i64 q) {
    const auto [h, w] = window_argmax(X, x.shape(), n, c, p, q, g);
    DX(n, c, h, w) += DY(n, c, p, q);
  });
}

void ReferenceBackend::do_global_avgpool_forward(const Tensor& x, Tensor& y) {
  const Shape s = x.shape();
  const At X(x), Y(y);
  for (i64 n = 0; n < s.n; ++n)
    for (i64 c = 0; c < s.c; ++c) {
      double sum = 0.0;
      for (i64 h = 0; h < s.h; ++h)
        for (i64 w = 0; w < s.w; ++w) sum += X(n, c, h, w);
      Y(n, c) = sum / static_cast<double>(s.h * s.w);
    }
}

void ReferenceBackend::do_global_avgpool_backward(const Tensor& dy, Tensor& dx) {
  const Shape s = dx.shape();
  const At DY(dy), DX(dx);
  for_each(s, [&](i64 n, i64 c, i64 h, i64 w) { DX(n, c, h, w) = DY(n, c) / static_cast<double>(s.h * s.w); });
}

// ---- fully connected ------------------------------------------------------------------------------------------

void ReferenceBackend::do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  const At X(x), Wt(w), Y(y);
  for (i64 n = 0; n < y.shape().n; ++n)
    for (i64 k = 0; k < y.shape().c; ++k) {
      double sum = b ? At(*b)(0, k) : 0.0;
      for (i64 c = 0; c < x.shape().c; ++c) sum += X(n, c) * Wt(k, c);
      Y(n, k) = sum;
    }
}

void ReferenceBackend::do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  const At DY(dy), Wt(w), DX(dx);
  for (i64 n = 0; n < dx.shape().n; ++n)
    for (i64 c = 0; c < dx.shape().c; ++c) {
      double sum = 0.0;
      for (i64 k = 0; k < dy.shape().c; ++k) sum += DY(n, k) * Wt(k, c);
      DX(n, c) = sum;
    }
}

void ReferenceBackend::do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                                  GradMode mode) {
  const At X(x), DY(dy), DW(dw);
  const i64 batch = x.shape().n;
  for (i64 k = 0; k < dw.shape().n; ++k) {
    for (i64 c = 0; c < dw.shape().c; ++c) {
      double sum = 0.0;
      for (i64 n = 0; n < batch; ++n) sum += DY(n, k) * X(n, c);
      set_or_add(DW(k, c), sum, mode);
    }
    if (db) {
      double sum = 0.0;
      for (i64 n = 0; n < batch; ++n) sum += DY(n, k);
      set_or_add(At(*db)(0, k), sum, mode);
    }
  }
}

// ---- loss -----------------------------------------------------------------------------------------------------

namespace {
// Smoothed target q_k of a sample with class `label` among K classes.
double target(i64 k, i64 label, i64 classes, double eps) {
  return eps / static_cast<double>(classes) + (k == label ? 1.0 - eps : 0.0);
}
}  // namespace

void ReferenceBackend::do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                        const Tensor* class_weights, double label_smoothing,
                                                        Tensor& probs, Tensor& losses) {
  const i64 classes = logits.shape().c;
  const At L(logits), P(probs), LOSS(losses);
  const std::int32_t* label = labels.data<std::int32_t>();
  for (i64 n = 0; n < logits.shape().n; ++n) {
    double top = L(n, 0);
    for (i64 k = 1; k < classes; ++k) top = std::max(top, L(n, k));
    double sum = 0.0;
    for (i64 k = 0; k < classes; ++k) sum += std::exp(L(n, k) - top);
    const double log_sum = std::log(sum);
    double loss = 0.0;
    for (i64 k = 0; k < classes; ++k) {
      const double log_p = L(n, k) - top - log_sum;
      P(n, k) = std::exp(log_p);
      loss -= target(k, label[n], classes, label_smoothing) * log_p;
    }
    LOSS(n, 0) = (class_weights ? At(*class_weights)(0, label[n]) : 1.0) * loss;
  }
}

void ReferenceBackend::do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                         const Tensor* class_weights, double label_smoothing,
                                                         double scale, Tensor& dlogits) {
  const i64 classes = probs.shape().c;
  const At P(probs), D(dlogits);
  const std::int32_t* label = labels.data<std::int32_t>();
  for (i64 n = 0; n < probs.shape().n; ++n) {
    const double weight = class_weights ? At(*class_weights)(0, label[n]) : 1.0;
    for (i64 k = 0; k < classes; ++k)
      D(n, k) = scale * weight * (P(n, k) - target(k, label[n], classes, label_smoothing));
  }
}

// ---- optimizer ------------------------------------------------------------------------------------------------

namespace {

// The definition of kernels/backend.hpp on n elements, weight_decay in place of h's.
void sgd_update_range(double* w, const double* dw, double* v, i64 n, const SgdUpdate& h, double weight_decay) {
  for (i64 i = 0; i < n; ++i) {
    const double g = h.grad_scale * dw[i] + weight_decay * w[i];
    v[i] = h.momentum * v[i] + g;
    w[i] -= h.lr * (h.nesterov ? g + h.momentum * v[i] : v[i]);
  }
}

}  // namespace

void ReferenceBackend::do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  sgd_update_range(param.data<double>(), grad.data<double>(), momentum.data<double>(), param.count(), h,
                   h.weight_decay);
}

void ReferenceBackend::do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                              std::span<const FlatSegment> segments, const SgdUpdate& h) {
  double* w = param.data<double>();
  const double* dw = grad.data<double>();
  double* v = momentum.data<double>();
  for (const FlatSegment& s : segments)
    sgd_update_range(w + s.offset, dw + s.offset, v + s.offset, s.count, h, s.decayed ? h.weight_decay : 0.0);
}

// ---- flat buffers ---------------------------------------------------------------------------------------------

void ReferenceBackend::do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) {
  cpu::host_copy_segments(src, dst, segments);
}

}  // namespace cbednet
