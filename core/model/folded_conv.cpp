#include "core/model/folded_conv.hpp"

#include <cmath>

#include "core/model/train_step.hpp"  // download_f64

namespace cbednet {

FoldedConv::FoldedConv(Backend& backend, const Conv2d& conv, const BatchNorm& bn)
    : conv_(&conv), act_(bn.activation()) {
  const Tensor& w = conv.weight();
  const std::int64_t k = w.shape().n, per_channel = w.shape().count() / k;
  CBEDNET_REQUIRE(bn.channels() == k, ShapeError, "folding batch norm ", bn.name(), " (", bn.channels(),
                  " channels) into convolution ", conv.name(), " (", k, " output channels)");
  Tensor weight = download_f64(backend, w);
  const Tensor gamma = download_f64(backend, bn.gamma()), beta = download_f64(backend, bn.beta());
  const Tensor mean = download_f64(backend, bn.running_mean()), var = download_f64(backend, bn.running_var());
  Tensor bias({1, k, 1, 1}, DType::f64, Layout::nchw);
  const Tensor conv_bias = conv.bias() != nullptr ? download_f64(backend, *conv.bias()) : Tensor();
  double* wd = weight.data<double>();
  for (std::int64_t c = 0; c < k; ++c) {
    const double s = gamma.data<double>()[c] / std::sqrt(var.data<double>()[c] + bn.eps());
    for (std::int64_t i = 0; i < per_channel; ++i) wd[c * per_channel + i] *= s;
    const double b = conv_bias.empty() ? 0.0 : conv_bias.data<double>()[c];
    bias.data<double>()[c] = beta.data<double>()[c] + (b - mean.data<double>()[c]) * s;
  }
  weight_ = backend.allocate(w.shape(), w.dtype(), w.layout());
  backend.copy(weight, weight_);
  bias_ = backend.allocate(bias.shape(), backend.dtype(), w.layout());
  backend.copy(bias, bias_);
}

Tensor FoldedConv::forward(Backend& backend, const Tensor& x, const Tensor* residual) const {
  Tensor y = backend.allocate(conv_->output_shape(x.shape()));
  backend.conv2d_bias_act_forward(x, weight_, bias_, residual, act_, y, conv_->geometry());
  return y;
}

}  // namespace cbednet
