// A convolution with the batch norm after it folded in, for inference. With running statistics a batch norm is a
// fixed per-channel affine map, so it merges into the linear map before it (Ioffe & Szegedy 2015, section 3.2):
//   bn(conv(x; w) + b) = conv(x; w * s) + (beta + (b - mean) * s),   s = gamma / sqrt(running_var + eps)
// per output channel. The folded weight and bias are computed once, in fp64 on the host, from the layers' bound
// parameters and statistics, and stored in the backend's compute dtype; forward is then one
// Backend::conv2d_bias_act_forward carrying the batch norm's residual add and activation (one cuDNN call or one
// CPU pass instead of a convolution and a batch-norm pass).
#pragma once

#include <cmath>
#include <span>

#include "core/layers/batchnorm.hpp"
#include "core/layers/conv2d.hpp"

namespace cbednet {

// The fold's arithmetic on host values, shared with the ONNX export (interop/onnx/onnx_export.cpp, --fold-bn):
// weight [K, per-channel] is scaled in place; bias [K] holds the convolution's bias (zeros without one) on entry and
// the folded bias on return. Computed in double whatever W and V are.
template <typename W, typename V>
void fold_batch_norm(std::span<W> weight, std::span<W> bias, std::span<const V> gamma, std::span<const V> beta,
                     std::span<const V> mean, std::span<const V> var, double eps) {
  const std::size_t k = bias.size(), per_channel = weight.size() / k;
  for (std::size_t c = 0; c < k; ++c) {
    const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    for (std::size_t i = 0; i < per_channel; ++i)
      weight[c * per_channel + i] = static_cast<W>(static_cast<double>(weight[c * per_channel + i]) * s);
    bias[c] = static_cast<W>(static_cast<double>(beta[c]) +
                             (static_cast<double>(bias[c]) - static_cast<double>(mean[c])) * s);
  }
}

class FoldedConv {
 public:
  // Reads conv's weight (and bias) and bn's gamma, beta and running statistics as they are now: a later change of
  // either is not seen (fold again).
  FoldedConv(Backend& backend, const Conv2d& conv, const BatchNorm& bn);

  // act(conv(x; w * s) + bias [+ residual]), act and eps being the batch norm's.
  Tensor forward(Backend& backend, const Tensor& x, const Tensor* residual) const;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  const Conv2d* conv_;  // not owned: the block owning both layers owns this too
  Activation act_;
  Tensor weight_, bias_;
};

}  // namespace cbednet
