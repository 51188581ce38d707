// Parameter-free elementwise layers: ReLU, residual add and dropout.
// (The ResNet blocks fuse ReLU and the residual add into batch norm; these stand alone for other models and tests.)
#pragma once

#include "core/layers/layer.hpp"

namespace cbednet {

class Relu final : public Layer {
 public:
  explicit Relu(std::string name) : Layer(std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(Backend& backend, const Tensor& x) const;
  Tensor backward(Backend& backend, const Tensor& y, const Tensor& dy) const;  // uses the output as mask
};

// y = a + b; the gradient reaches both inputs unchanged.
class ResidualAdd final : public Layer {
 public:
  explicit ResidualAdd(std::string name) : Layer(std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(Backend& backend, const Tensor& a, const Tensor& b) const;
};

// Inverted dropout (scale kept units by 1/(1-p)); masks drawn as DropoutKey documents, keyed by this layer's id.
class Dropout final : public Layer {
 public:
  Dropout(std::string name, double p, std::uint64_t layer_id);
  Shape output_shape(const Shape& in) const override { return in; }
  double p() const { return p_; }

  struct Output {
    Tensor y;
    Tensor mask;
  };
  // seed: the run's seed; step and first_sample locate the global batch (so masks ignore the rank split).
  Output forward_train(Backend& backend, const Tensor& x, std::uint64_t seed, std::uint64_t step,
                       std::int64_t first_sample) const;
  Tensor backward(Backend& backend, const Tensor& dy, const Tensor& mask) const;

 private:
  double p_;
  std::uint64_t layer_id_;
};

}  // namespace cbednet
