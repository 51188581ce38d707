#include "core/layers/elementwise.hpp"

namespace cbednet {

Tensor Relu::forward(Backend& backend, const Tensor& x) const {
  Tensor y = backend.allocate(x.shape());
  backend.relu_forward(x, y);
  return y;
}

Tensor Relu::backward(Backend& backend, const Tensor& y, const Tensor& dy) const {
  require_input(dy, y.shape(), "dy");
  Tensor dx = backend.allocate(y.shape());
  backend.relu_backward(y, dy, dx);
  return dx;
}

Tensor ResidualAdd::forward(Backend& backend, const Tensor& a, const Tensor& b) const {
  require_input(b, a.shape(), "second input");
  Tensor y = backend.allocate(a.shape());
  backend.add(a, b, y);
  return y;
}

Dropout::Dropout(std::string name, double p, std::uint64_t layer_id)
    : Layer(std::move(name)), p_(p), layer_id_(layer_id) {
  if (!(p >= 0.0 && p < 1.0))
    throw_error<InvalidArgument>("layer ", this->name(), ": dropout probability must be in [0, 1), got ", p);
}

Dropout::Output Dropout::forward_train(Backend& backend, const Tensor& x, std::uint64_t seed, std::uint64_t step,
                                       std::int64_t first_sample) const {
  Output out{backend.allocate(x.shape()), backend.allocate(x.shape())};
  const DropoutKey key{RandomStream(seed, RngPurpose::dropout, layer_id_), step, first_sample};
  backend.dropout_forward(x, p_, key, out.y, out.mask);
  return out;
}

Tensor Dropout::backward(Backend& backend, const Tensor& dy, const Tensor& mask) const {
  require_input(dy, mask.shape(), "dy");
  Tensor dx = backend.allocate(dy.shape());
  backend.dropout_backward(dy, mask, dx);
  return dx;
}

}  // namespace cbednet
