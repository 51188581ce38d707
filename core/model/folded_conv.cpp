#include "core/model/folded_conv.hpp"

#include "core/model/train_step.hpp"  // download_f64

namespace cbednet {

FoldedConv::FoldedConv(Backend& backend, const Conv2d& conv, const BatchNorm& bn)
    : conv_(&conv), act_(bn.activation()) {
  const Tensor& w = conv.weight();
  const std::int64_t k = w.shape().n;
  CBEDNET_REQUIRE(bn.channels() == k, ShapeError, "folding batch norm ", bn.name(), " (", bn.channels(),
                  " channels) into convolution ", conv.name(), " (", k, " output channels)");
  Tensor weight = download_f64(backend, w);
  const Tensor gamma = download_f64(backend, bn.gamma()), beta = download_f64(backend, bn.beta());
  const Tensor mean = download_f64(backend, bn.running_mean()), var = download_f64(backend, bn.running_var());
  Tensor bias = conv.bias() != nullptr ? download_f64(backend, *conv.bias()) : Tensor({1, k, 1, 1}, DType::f64);
  const auto values = [](const Tensor& t) { return std::span<const double>(t.span<double>()); };
  fold_batch_norm(weight.span<double>(), bias.span<double>(), values(gamma), values(beta), values(mean), values(var),
                  bn.eps());
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
