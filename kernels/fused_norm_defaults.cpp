// The default implementations of the fused batch-norm operations (kernels/backend.hpp, "fused batch norm for
// training"): compositions of the unfused operations, so that every backend runs the fused path correctly. They are
// no faster than the unfused path (they write the normalised activation the fusion exists to avoid); a backend
// overrides them where it has fused kernels. The per-channel arithmetic of the statistics is done in fp64 on the
// host: a few values per channel, and the CPU backends' tensors are host tensors anyway.
#include <algorithm>
#include <cmath>

#include "kernels/backend.hpp"

namespace cbednet {

namespace {

// t as a host fp64 NCHW tensor (the same storage when it already is one).
Tensor host_f64(Backend& backend, const Tensor& t) {
  if (t.device() == Device::host && t.dtype() == DType::f64 && t.layout() == Layout::nchw) return t.view();
  Tensor out(t.shape(), DType::f64, Layout::nchw);
  backend.copy(t, out);
  return out;
}

Tensor channel_constant(Backend& backend, std::int64_t channels, double value) {
  Tensor t = backend.allocate({1, channels, 1, 1}, backend.param_dtype(), backend.layout());
  backend.fill(t, value);
  return t;
}

// relu(x * input.scale + input.bias): the activation the fused convolutions never write.
Tensor normalized_input(Backend& backend, const Tensor& x, const NormRelu& input) {
  Tensor t = backend.allocate(x.shape(), x.dtype(), x.layout());
  backend.scale_bias_act_forward(x, input.scale, input.bias, nullptr, nullptr, nullptr, Activation::relu, t);
  return t;
}

}  // namespace

void Backend::do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                                      Tensor& sqsum, const ConvGeometry& g) {
  if (input) {
    conv2d_forward(normalized_input(*this, x, *input), w, nullptr, y, g);
  } else {
    conv2d_forward(x, w, nullptr, y, g);
  }
  // Sums of the stored (rounded) y, in fp64, in a fixed order.
  const Tensor values = host_f64(*this, y);
  const Shape& s = values.shape();
  Tensor sums({1, s.c, 1, 1}, DType::f64, Layout::nchw), squares({1, s.c, 1, 1}, DType::f64, Layout::nchw);
  const double* v = values.data<double>();
  for (std::int64_t c = 0; c < s.c; ++c) {
    double a = 0.0, b = 0.0;
    for (std::int64_t n = 0; n < s.n; ++n) {
      const double* plane = v + (n * s.c + c) * s.h * s.w;
      for (std::int64_t i = 0; i < s.h * s.w; ++i) {
        a += plane[i];
        b += plane[i] * plane[i];
      }
    }
    sums.data<double>()[c] = a;
    squares.data<double>()[c] = b;
  }
  copy(sums, sum);
  copy(squares, sqsum);
}

void Backend::do_batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count, const Tensor& gamma,
                                    const Tensor& beta, double eps, Tensor& scale, Tensor& bias, Tensor& mean,
                                    Tensor& var, Tensor& invstd, Tensor* step_mean_sum, Tensor* step_var_sum) {
  const Tensor s = host_f64(*this, sum), q = host_f64(*this, sqsum), gm = host_f64(*this, gamma),
               bt = host_f64(*this, beta);
  const std::int64_t channels = s.shape().c;
  const Shape shape{1, channels, 1, 1};
  Tensor out_scale(shape, DType::f64), out_bias(shape, DType::f64), out_mean(shape, DType::f64),
      out_var(shape, DType::f64), out_invstd(shape, DType::f64);
  const double m = static_cast<double>(count);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double mu = s.data<double>()[c] / m;
    const double biased = std::max(q.data<double>()[c] / m - mu * mu, 0.0);
    const double inv = 1.0 / std::sqrt(biased + eps);
    out_mean.data<double>()[c] = mu;
    out_var.data<double>()[c] = biased * m / (m - 1.0);
    out_invstd.data<double>()[c] = inv;
    out_scale.data<double>()[c] = gm.data<double>()[c] * inv;
    out_bias.data<double>()[c] = bt.data<double>()[c] - mu * out_scale.data<double>()[c];
  }
  copy(out_scale, scale);
  copy(out_bias, bias);
  copy(out_mean, mean);
  copy(out_var, var);
  copy(out_invstd, invstd);
  if (step_mean_sum) axpy(1.0, mean, *step_mean_sum);
  if (step_var_sum) axpy(1.0, var, *step_var_sum);
}

void Backend::do_scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                                        const Tensor* residual, const Tensor* residual_scale,
                                        const Tensor* residual_bias, Activation act, Tensor& y) {
  // An inference batch norm with mean 0, variance 1 and eps 0 is x * gamma + beta (1 / sqrt(1) is exact).
  const std::int64_t channels = x.shape().c;
  const Tensor zero = channel_constant(*this, channels, 0.0), one = channel_constant(*this, channels, 1.0);
  Tensor shifted;
  if (residual_scale) {
    shifted = allocate(residual->shape(), residual->dtype(), residual->layout());
    batchnorm_forward_inference(*residual, *residual_scale, *residual_bias, zero, one, nullptr, Activation::none, 0.0,
                                shifted);
  }
  batchnorm_forward_inference(x, scale, bias, zero, one, residual_scale ? &shifted : residual, act, 0.0, y);
}

void Backend::do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                                  const ConvGeometry& g, GradMode mode) {
  conv2d_backward_filter(normalized_input(*this, x, input), dy, dw, nullptr, g, mode);
}

void Backend::do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                const NormRelu& input, Tensor& dx, Tensor& dgamma, Tensor& dbeta,
                                                const ConvGeometry& g, GradMode mode) {
  // The gradient at the ReLU's output, then batchnorm_backward with the ReLU's output as its y (its mask:
  // relu(x * scale + bias) > 0 exactly where x * scale + bias > 0).
  Tensor d_activation = allocate(x.shape(), x.dtype(), x.layout());
  conv2d_backward_data(dy, w, d_activation, g, GradMode::overwrite);
  const Tensor activation = normalized_input(*this, x, input);
  batchnorm_backward(x, activation, d_activation, input.gamma, input.beta, input.mean, input.invstd, Activation::relu,
                     dx, nullptr, dgamma, dbeta, mode);
}

}  // namespace cbednet
