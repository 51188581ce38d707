// The fused batch-norm operations on the fast CPU backend (Backend's "fused batch norm for training"), NCHW. The
// convolutions stay im2col + GEMM: the input transform relu(x * scale + bias) is written once into a scratch tensor
// (the GEMM cannot apply it as it reads), and the statistics and the batch-norm backward are single per-channel
// passes with fp64 sums in a fixed order (kernels/cpu/lane_sums.hpp), so results do not depend on the thread count.
// What they save against the default compositions: the host fp64 copies of each convolution output for its sums,
// the separate inference batch norms and the materialised ReLU output in backward.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/lane_sums.hpp"

namespace cbednet {
namespace cpu {
namespace {

using i64 = std::int64_t;

// y = act( x * scale + bias [+ residual * residual_scale + residual_bias | + residual] ) per channel.
template <typename T>
void scale_bias_act(const Workspace<T>& ws, const Tensor& x, const T* scale, const T* bias, const Tensor* residual,
                    const T* residual_scale, const T* residual_bias, bool relu, Tensor& y) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w;
  const T* xd = x.data<T>();
  const T* rd = residual ? residual->data<T>() : nullptr;
  T* yd = y.data<T>();
  const T floor = relu ? T{0} : -std::numeric_limits<T>::infinity();
#pragma omp parallel for collapse(2) schedule(static) num_threads(ws.team(s.n* s.c, s.count()))
  for (i64 n = 0; n < s.n; ++n)
    for (i64 c = 0; c < s.c; ++c) {
      const i64 off = (n * s.c + c) * hw;
      const T a = scale[c], b = bias[c];
      const T *in = xd + off, *r = rd ? rd + off : nullptr;
      T* out = yd + off;
      if (r && residual_scale) {
        const T ra = residual_scale[c], rb = residual_bias[c];
        for (i64 i = 0; i < hw; ++i) out[i] = std::max(floor, a * in[i] + b + (ra * r[i] + rb));
      } else if (r) {
        for (i64 i = 0; i < hw; ++i) out[i] = std::max(floor, a * in[i] + b + r[i]);
      } else {
        for (i64 i = 0; i < hw; ++i) out[i] = std::max(floor, a * in[i] + b);
      }
    }
}

// sum[c] = sum of y, sqsum[c] = sum of y^2 over (n, h, w).
template <typename T>
void channel_sums(const Workspace<T>& ws, const Tensor& y, Tensor& sum, Tensor& sqsum) {
  const Shape s = y.shape();
  const i64 hw = s.h * s.w;
  const T* yd = y.data<T>();
  T* sd = sum.data<T>();
  T* qd = sqsum.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(s.c, s.count()))
  for (i64 c = 0; c < s.c; ++c) {
    double total = 0.0, squares = 0.0;
    for (i64 n = 0; n < s.n; ++n) {
      const T* in = yd + (n * s.c + c) * hw;
      const auto [a, b] = lane_sums(
          hw, [in](i64 i) { return static_cast<double>(in[i]); },
          [in](i64 i) { return static_cast<double>(in[i]) * static_cast<double>(in[i]); });
      total += a;
      squares += b;
    }
    sd[c] = static_cast<T>(total);
    qd[c] = static_cast<T>(squares);
  }
}

// Backward of relu(batch norm(x)) given the gradient at the ReLU's output (batchnorm_backward's formula, the ReLU
// mask from x * scale + bias > 0): dz = d_activation masked, dgamma (+)= sum dz z, dbeta (+)= sum dz,
// dx = gamma * invstd * (dz - dbeta / m - z * dgamma / m) with z = (x - mean) * invstd and this call's sums.
template <typename T>
void norm_relu_backward(const Workspace<T>& ws, const Tensor& x, const Tensor& d_activation, const NormRelu& input,
                        Tensor& dx, Tensor& dgamma, Tensor& dbeta, GradMode mode) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w;
  const double m = static_cast<double>(s.n * hw);
  const T *xd = x.data<T>(), *dad = d_activation.data<T>();
  const T *gd = input.gamma.data<T>(), *md = input.mean.data<T>(), *isd = input.invstd.data<T>();
  const T *sc = input.scale.data<T>(), *bi = input.bias.data<T>();
  T *dxd = dx.data<T>(), *dgd = dgamma.data<T>(), *dbd = dbeta.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(s.c, s.count()))
  for (i64 c = 0; c < s.c; ++c) {
    const double mu = md[c], inv = isd[c];
    const T a_in = sc[c], b_in = bi[c];
    double sum_g = 0.0, sum_gz = 0.0;
    for (i64 n = 0; n < s.n; ++n) {
      const i64 off = (n * s.c + c) * hw;
      const T *in = xd + off, *grad = dad + off;
      const auto g = [=](i64 i) {
        const double gi = grad[i];  // loaded unconditionally so that the select vectorizes
        return a_in * in[i] + b_in > T{0} ? gi : 0.0;
      };
      const auto [sg, sgx] = lane_sums(hw, g, [=](i64 i) { return g(i) * (in[i] - mu); });
      sum_g += sg;
      sum_gz += sgx;
    }
    sum_gz *= inv;
    const BatchNormBackwardTerms<T> terms(gd[c], mu, inv, sum_g, sum_gz, m);
    for (i64 n = 0; n < s.n; ++n) {
      const i64 off = (n * s.c + c) * hw;
      const T *in = xd + off, *grad = dad + off;
      T* out = dxd + off;
      for (i64 i = 0; i < hw; ++i) {
        const T gi = grad[i];
        const T g = a_in * in[i] + b_in > T{0} ? gi : T{0};
        out[i] = terms.dx(g, in[i]);
      }
    }
    store_batchnorm_weight_gradients(dgd[c], dbd[c], sum_gz, sum_g, mode == GradMode::accumulate);
  }
}

}  // namespace
}  // namespace cpu

template <typename T>
Tensor CpuBackend<T>::normalized_input(const Tensor& x, const NormRelu& input) {
  Tensor t = allocate(x.shape(), x.dtype(), x.layout());
  cpu::scale_bias_act<T>(ws_, x, input.scale.data<T>(), input.bias.data<T>(), nullptr, nullptr, nullptr, true, t);
  return t;
}

template <typename T>
void CpuBackend<T>::do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y,
                                            Tensor& sum, Tensor& sqsum, const ConvGeometry& g) {
  if (input) {
    cpu::conv2d_forward(ws_, normalized_input(x, *input), w, nullptr, y, g);
  } else {
    cpu::conv2d_forward(ws_, x, w, nullptr, y, g);
  }
  cpu::channel_sums(ws_, y, sum, sqsum);
}

template <typename T>
void CpuBackend<T>::do_batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count,
                                          const Tensor& gamma, const Tensor& beta, double eps, Tensor& scale,
                                          Tensor& bias, Tensor& mean, Tensor& var, Tensor& invstd,
                                          Tensor* step_mean_sum, Tensor* step_var_sum) {
  const double m = static_cast<double>(count);
  for (std::int64_t c = 0; c < sum.shape().c; ++c) {
    const double mu = sum.data<T>()[c] / m;
    const double biased = std::max(sqsum.data<T>()[c] / m - mu * mu, 0.0);
    const double inv = 1.0 / std::sqrt(biased + eps);
    const double a = gamma.data<T>()[c] * inv;
    mean.data<T>()[c] = static_cast<T>(mu);
    var.data<T>()[c] = static_cast<T>(biased * m / (m - 1.0));
    invstd.data<T>()[c] = static_cast<T>(inv);
    scale.data<T>()[c] = static_cast<T>(a);
    bias.data<T>()[c] = static_cast<T>(beta.data<T>()[c] - mu * a);
    // As axpy(1, mean, step_mean_sum) would add them: the stored (rounded) values.
    if (step_mean_sum) step_mean_sum->data<T>()[c] += mean.data<T>()[c];
    if (step_var_sum) step_var_sum->data<T>()[c] += var.data<T>()[c];
  }
}

template <typename T>
void CpuBackend<T>::do_scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                                              const Tensor* residual, const Tensor* residual_scale,
                                              const Tensor* residual_bias, Activation act, Tensor& y) {
  cpu::scale_bias_act(ws_, x, scale.data<T>(), bias.data<T>(), residual,
                      residual_scale ? residual_scale->data<T>() : nullptr,
                      residual_bias ? residual_bias->data<T>() : nullptr, act == Activation::relu, y);
}

template <typename T>
void CpuBackend<T>::do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy,
                                                        Tensor& dw, const ConvGeometry& g, GradMode mode) {
  cpu::conv2d_backward_filter(ws_, normalized_input(x, input), dy, dw, nullptr, g, mode);
}

template <typename T>
void CpuBackend<T>::do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                      const NormRelu& input, Tensor& dx, Tensor& dgamma, Tensor& dbeta,
                                                      const ConvGeometry& g, GradMode mode) {
  Tensor d_activation = allocate(x.shape(), x.dtype(), x.layout());
  cpu::conv2d_backward_data(ws_, dy, w, d_activation, g);
  cpu::norm_relu_backward(ws_, x, d_activation, input, dx, dgamma, dbeta, mode);
}

#define CBEDNET_CPU_FUSED_NORM(T)                                                                                    \
  template Tensor CpuBackend<T>::normalized_input(const Tensor&, const NormRelu&);                                   \
  template void CpuBackend<T>::do_conv2d_stats_forward(const Tensor&, const NormRelu*, const Tensor&, Tensor&,       \
                                                       Tensor&, Tensor&, const ConvGeometry&);                       \
  template void CpuBackend<T>::do_batchnorm_finalize(const Tensor&, const Tensor&, std::int64_t, const Tensor&,      \
                                                     const Tensor&, double, Tensor&, Tensor&, Tensor&, Tensor&,      \
                                                     Tensor&, Tensor*, Tensor*);                                     \
  template void CpuBackend<T>::do_scale_bias_act_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor*, \
                                                         const Tensor*, const Tensor*, Activation, Tensor&);         \
  template void CpuBackend<T>::do_conv2d_backward_filter_norm_relu(const Tensor&, const NormRelu&, const Tensor&,    \
                                                                   Tensor&, const ConvGeometry&, GradMode);          \
  template void CpuBackend<T>::do_conv2d_backward_data_norm_relu(const Tensor&, const Tensor&, const Tensor&,        \
                                                                 const NormRelu&, Tensor&, Tensor&, Tensor&,         \
                                                                 const ConvGeometry&, GradMode);
CBEDNET_CPU_INSTANTIATE(CBEDNET_CPU_FUSED_NORM)
#undef CBEDNET_CPU_FUSED_NORM

}  // namespace cbednet
