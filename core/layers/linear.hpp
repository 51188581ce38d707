// Fully connected layer: x [N,C,1,1] -> y [N,K,1,1] = x weight^T + bias, weight [K,C,1,1], bias [1,K,1,1].
#pragma once

#include "core/layers/layer.hpp"

namespace cbednet {

class Linear final : public Layer {
 public:
  Linear(std::string name, std::int64_t in_features, std::int64_t out_features);

  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs() const override;
  std::int64_t forward_macs(const Shape& in) const override { return in.n * in_features_ * out_features_; }

  Tensor forward(Backend& backend, const Tensor& x) const;
  Tensor backward(Backend& backend, const Tensor& x, const Tensor& dy, bool need_dx);  // accumulates dW, db

 private:
  std::int64_t in_features_, out_features_;
};

}  // namespace cbednet
