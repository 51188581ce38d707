// Batch norm on the CPU. Statistics and gradient sums of one channel are accumulated in fp64 by one thread in
// (n, h, w) order, so they do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/lane_sums.hpp"

namespace cbednet::cpu {
namespace {

using i64 = std::int64_t;

template <typename T>
T activate(Activation act, double v) {
  return static_cast<T>(act == Activation::relu && v < 0.0 ? 0.0 : v);
}

}  // namespace

template <typename T>
void batchnorm_forward_training(const Workspace<T>& ws, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor* residual, Activation act, double eps, Tensor& y, Tensor& mean,
                                Tensor& var, Tensor& invstd) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w, m = s.n * hw;
  const T* xd = x.data<T>();
  const T* res = residual ? residual->data<T>() : nullptr;
  const T* gd = gamma.data<T>();
  const T* bd = beta.data<T>();
  T* yd = y.data<T>();
  T* md = mean.data<T>();
  T* vd = var.data<T>();
  T* isd = invstd.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(s.c, s.count()))
  for (i64 c = 0; c < s.c; ++c) {
    double sum = 0.0;
    for (i64 n = 0; n < s.n; ++n) {
      const T* in = xd + (n * s.c + c) * hw;
      sum += lane_sum(hw, [in](i64 i) { return static_cast<double>(in[i]); });
    }
    const double mu = m > 0 ? sum / static_cast<double>(m) : 0.0;
    double sq = 0.0;
    for (i64 n = 0; n < s.n; ++n) {
      const T* in = xd + (n * s.c + c) * hw;
      sq += lane_sum(hw, [in, mu](i64 i) { return (in[i] - mu) * (in[i] - mu); });
    }
    const double inv = 1.0 / std::sqrt((m > 0 ? sq / static_cast<double>(m) : 0.0) + eps);
    md[c] = static_cast<T>(mu);
    vd[c] = static_cast<T>(m > 1 ? sq / static_cast<double>(m - 1) : 0.0);  // as the reference: 0 for one value
    isd[c] = static_cast<T>(inv);
    // y = a (x - mean) + beta, in T so that the loop vectorizes; centring first avoids cancellation when the
    // mean is large against the spread.
    const T a = static_cast<T>(gd[c] * inv), b = bd[c], centre = static_cast<T>(mu);
    const T floor = act == Activation::relu ? T{0} : -std::numeric_limits<T>::infinity();
    for (i64 n = 0; n < s.n; ++n) {
      const i64 off = (n * s.c + c) * hw;
      const T* in = xd + off;
      T* out = yd + off;
      if (res) {
        const T* r = res + off;
        for (i64 i = 0; i < hw; ++i) out[i] = std::max(floor, a * (in[i] - centre) + b + r[i]);
      } else {
        for (i64 i = 0; i < hw; ++i) out[i] = std::max(floor, a * (in[i] - centre) + b);
      }
    }
  }
}

template <typename T>
void batchnorm_forward_inference(const Workspace<T>& ws, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                 Activation act, double eps, Tensor& y) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w;
  const T* xd = x.data<T>();
  const T* res = residual ? residual->data<T>() : nullptr;
  const T* gd = gamma.data<T>();
  const T* bd = beta.data<T>();
  const T* md = running_mean.data<T>();
  const T* vd = running_var.data<T>();
  T* yd = y.data<T>();
#pragma omp parallel for collapse(2) schedule(static) num_threads(ws.team(s.n* s.c, s.count()))
  for (i64 n = 0; n < s.n; ++n)
    for (i64 c = 0; c < s.c; ++c) {
      const double a = gd[c] / std::sqrt(static_cast<double>(vd[c]) + eps), b = bd[c] - md[c] * a;
      const i64 off = (n * s.c + c) * hw;
      for (i64 i = 0; i < hw; ++i) yd[off + i] = activate<T>(act, a * xd[off + i] + b + (res ? res[off + i] : T{0}));
    }
}

// g = dy masked by the ReLU (y > 0), z = (x - mean) * invstd:
//   dbeta = sum g, dgamma = sum g z, dx = gamma * invstd * (g - dbeta / m - z * dgamma / m), dresidual = g.
template <typename T>
void batchnorm_backward(const Workspace<T>& ws, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                        const Tensor& mean, const Tensor& invstd, Activation act, Tensor& dx, Tensor* dresidual,
                        Tensor& dgamma, Tensor& dbeta, GradMode mode) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w;
  const double m = static_cast<double>(s.n * hw);
  const T* xd = x.data<T>();
  const T* yd = y.data<T>();
  const T* dyd = dy.data<T>();
  const T* gd = gamma.data<T>();
  const T* md = mean.data<T>();
  const T* isd = invstd.data<T>();
  T* dxd = dx.data<T>();
  T* drd = dresidual ? dresidual->data<T>() : nullptr;
  T* dgd = dgamma.data<T>();
  T* dbd = dbeta.data<T>();
  const bool relu = act == Activation::relu;
#pragma omp parallel for schedule(static) num_threads(ws.team(s.c, s.count()))
  for (i64 c = 0; c < s.c; ++c) {
    const double mu = md[c], inv = isd[c];
    double sum_g = 0.0, sum_gz = 0.0;
    for (i64 n = 0; n < s.n; ++n) {
      const i64 off = (n * s.c + c) * hw;
      const T *in = xd + off, *out = yd + off, *grad = dyd + off;
      const auto g = [=](i64 i) {
        const double gi = grad[i];  // loaded unconditionally so that the select vectorizes
        const T yi = out[i];
        return relu && !(yi > T{0}) ? 0.0 : gi;
      };
      const auto [sg, sgx] = lane_sums(hw, g, [=](i64 i) { return g(i) * (in[i] - mu); });
      sum_g += sg;
      sum_gz += sgx;
    }
    sum_gz *= inv;
    const BatchNormBackwardTerms<T> terms(gd[c], mu, inv, sum_g, sum_gz, m);
    for (i64 n = 0; n < s.n; ++n) {
      const i64 off = (n * s.c + c) * hw;
      const T *in = xd + off, *out = yd + off, *grad = dyd + off;
      T* dxo = dxd + off;
      if (relu) {
        // Unconditional loads, so that the select vectorizes.
        for (i64 i = 0; i < hw; ++i) {
          const T gi = grad[i], yi = out[i];
          const T g = yi > T{0} ? gi : T{0};
          dxo[i] = terms.dx(g, in[i]);
        }
        if (drd)
          for (i64 i = 0; i < hw; ++i) {
            const T gi = grad[i], yi = out[i];
            drd[off + i] = yi > T{0} ? gi : T{0};
          }
      } else {
        for (i64 i = 0; i < hw; ++i) dxo[i] = terms.dx(grad[i], in[i]);
        if (drd) std::copy(grad, grad + hw, drd + off);
      }
    }
    store_batchnorm_weight_gradients(dgd[c], dbd[c], sum_gz, sum_g, mode == GradMode::accumulate);
  }
}

#define CBEDNET_BN(T)                                                                                                  \
  template void batchnorm_forward_training<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor&,        \
                                              const Tensor*, Activation, double, Tensor&, Tensor&, Tensor&, Tensor&);  \
  template void batchnorm_forward_inference<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor&,       \
                                               const Tensor&, const Tensor&, const Tensor*, Activation, double,        \
                                               Tensor&);                                                               \
  template void batchnorm_backward<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, \
                                      const Tensor&, const Tensor&, Activation, Tensor&, Tensor*, Tensor&, Tensor&,    \
                                      GradMode);
CBEDNET_CPU_INSTANTIATE(CBEDNET_BN)
#undef CBEDNET_BN

}  // namespace cbednet::cpu
