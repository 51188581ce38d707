// Pooling layers: max pooling (square window) and global average pooling [N,C,H,W] -> [N,C,1,1].
#pragma once

#include "core/layers/layer.hpp"

namespace cbednet {

class MaxPool final : public Layer {
 public:
  MaxPool(std::string name, int kernel, int stride, int pad);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(Backend& backend, const Tensor& x) const;
  Tensor backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy) const;

 private:
  PoolGeometry geometry_;
};

class GlobalAvgPool final : public Layer {
 public:
  explicit GlobalAvgPool(std::string name) : Layer(std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return {in.n, in.c, 1, 1}; }
  std::int64_t forward_macs(const Shape& in) const override { return in.count(); }
  Tensor forward(Backend& backend, const Tensor& x) const;
  Tensor backward(Backend& backend, const Shape& x_shape, const Tensor& dy) const;
};

}  // namespace cbednet
