// 2-d convolution: x [N,C,H,W] * weight [K,C,R,S] (+ bias [K]) -> y [N,K,P,Q]; square stride and zero padding.
#pragma once

#include "core/layers/layer.hpp"

namespace cbednet {

class Conv2d final : public Layer {
 public:
  Conv2d(std::string name, std::int64_t in_channels, std::int64_t out_channels, int kernel, int stride, int pad,
         bool bias = false);

  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs() const override;
  std::int64_t forward_macs(const Shape& in) const override;

  Tensor forward(Backend& backend, const Tensor& x) const;
  // Accumulates dweight (and dbias); returns dx when need_dx (the first layer of a model does not need it).
  Tensor backward(Backend& backend, const Tensor& x, const Tensor& dy, bool need_dx);
  // Accumulates dweight (and dbias) and adds dx into `dx_sum` (a residual block's shortcut gradient): one pass
  // over the input gradient instead of a write and a separate addition.
  void backward_add_dx(Backend& backend, const Tensor& x, const Tensor& dy, Tensor& dx_sum);

  // The fused batch-norm path (Backend's "fused batch norm for training"): the convolution of T(x) (input given:
  // relu(x * scale + bias), the batch norm and ReLU before it; else x), with the per-channel sums of its output that
  // the batch norm after it finalizes.
  struct StatsOutput {
    Tensor y, sum, sqsum;  // sum, sqsum [1,K,1,1] param dtype
  };
  StatsOutput forward_stats(Backend& backend, const Tensor& x, const NormRelu* input) const;
  // Backward of forward_stats(x, &input) given dy: accumulates dweight, and returns the gradient at the input x of
  // the batch norm `input` describes (through the convolution, the ReLU and the batch norm), accumulating that batch
  // norm's dgamma and dbeta.
  Tensor backward_norm_relu(Backend& backend, const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dgamma,
                            Tensor& dbeta);

  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t out_channels() const { return out_channels_; }
  const ConvGeometry& geometry() const { return geometry_; }
  // The bound parameters (compute dtype): what folding a batch norm into this convolution reads.
  const Tensor& weight() const { return params_.at(0); }
  const Tensor* bias() const { return has_bias_ ? &params_.at(1) : nullptr; }

 private:
  std::int64_t in_channels_, out_channels_;
  ConvGeometry geometry_;
  bool has_bias_;
};

}  // namespace cbednet
