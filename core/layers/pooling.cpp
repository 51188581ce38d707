#include "core/layers/pooling.hpp"

namespace cbednet {

MaxPool::MaxPool(std::string name, int kernel, int stride, int pad)
    : Layer(std::move(name)), geometry_{kernel, stride, pad} {}

Shape MaxPool::output_shape(const Shape& in) const {
  try {
    return geometry_.output_shape(in);
  } catch (const ShapeError& e) {
    fail_shape(e.what());
  }
}

Tensor MaxPool::forward(Backend& backend, const Tensor& x) const {
  Tensor y = backend.allocate(output_shape(x.shape()));
  backend.maxpool_forward(x, y, geometry_);
  return y;
}

Tensor MaxPool::backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy) const {
  require_input(dy, y.shape(), "dy");
  Tensor dx = backend.allocate(x.shape());
  backend.maxpool_backward(x, y, dy, dx, geometry_);
  return dx;
}

Tensor GlobalAvgPool::forward(Backend& backend, const Tensor& x) const {
  Tensor y = backend.allocate(output_shape(x.shape()));
  backend.global_avgpool_forward(x, y);
  return y;
}

Tensor GlobalAvgPool::backward(Backend& backend, const Shape& x_shape, const Tensor& dy) const {
  require_input(dy, output_shape(x_shape), "dy");
  Tensor dx = backend.allocate(x_shape);
  backend.global_avgpool_backward(dy, dx);
  return dx;
}

}  // namespace cbednet
