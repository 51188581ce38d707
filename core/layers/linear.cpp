#include "core/layers/linear.hpp"

namespace cbednet {

Linear::Linear(std::string name, std::int64_t in_features, std::int64_t out_features)
    : Layer(std::move(name)), in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0)
    fail_shape("invalid size " + std::to_string(in_features) + " -> " + std::to_string(out_features));
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.c != in_features_ || in.h != 1 || in.w != 1)
    fail_shape("input " + in.str() + " does not match " + std::to_string(in_features_) + " features [N," +
               std::to_string(in_features_) + ",1,1]");
  return {in.n, out_features_, 1, 1};
}

std::vector<ParamSpec> Linear::param_specs() const {
  return {{"weight", {out_features_, in_features_, 1, 1}, ParamKind::linear_weight, in_features_, out_features_},
          {"bias", {1, out_features_, 1, 1}, ParamKind::linear_bias, in_features_, out_features_}};
}

Tensor Linear::forward(Backend& backend, const Tensor& x) const {
  Tensor y = backend.allocate(output_shape(x.shape()));
  backend.linear_forward(x, params_[0], &params_[1], y);
  return y;
}

Tensor Linear::backward(Backend& backend, const Tensor& x, const Tensor& dy, bool need_dx) {
  require_input(dy, output_shape(x.shape()), "dy");
  backend.linear_backward_weights(x, dy, grads_[0], &grads_[1], GradMode::accumulate);
  if (!need_dx) return {};
  Tensor dx = backend.allocate(x.shape());
  backend.linear_backward_data(dy, params_[0], dx);
  return dx;
}

}  // namespace cbednet
