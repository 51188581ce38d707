#include "core/layers/conv2d.hpp"

namespace cbednet {

Conv2d::Conv2d(std::string name, std::int64_t in_channels, std::int64_t out_channels, int kernel, int stride, int pad,
               bool bias)
    : Layer(std::move(name)),
      in_channels_(in_channels),
      out_channels_(out_channels),
      geometry_{kernel, kernel, stride, pad},
      has_bias_(bias) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || pad < 0)
    fail_shape("invalid convolution: " + std::to_string(in_channels) + " -> " + std::to_string(out_channels) +
               " channels, kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) + ", pad " +
               std::to_string(pad));
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.c != in_channels_)
    fail_shape("input has " + std::to_string(in.c) + " channels, expected " + std::to_string(in_channels_) +
               " (input " + in.str() + ")");
  try {
    return geometry_.output_shape(in, out_channels_);
  } catch (const ShapeError& e) {
    fail_shape(e.what());
  }
}

std::vector<ParamSpec> Conv2d::param_specs() const {
  const std::int64_t r = geometry_.kernel_h, s = geometry_.kernel_w;
  std::vector<ParamSpec> specs{{"weight",
                                {out_channels_, in_channels_, r, s},
                                ParamKind::conv_weight,
                                in_channels_ * r * s,
                                out_channels_ * r * s}};
  if (has_bias_) specs.push_back({"bias", {1, out_channels_, 1, 1}, ParamKind::conv_bias, in_channels_ * r * s, 0});
  return specs;
}

std::int64_t Conv2d::forward_macs(const Shape& in) const {
  const Shape out = output_shape(in);
  return out.count() * in_channels_ * geometry_.kernel_h * geometry_.kernel_w;
}

Tensor Conv2d::forward(Backend& backend, const Tensor& x) const {
  CBEDNET_REQUIRE(bound(), Error, "layer ", name(), ": forward before its parameters were bound");
  Tensor y = backend.allocate(output_shape(x.shape()));
  backend.conv2d_forward(x, params_[0], has_bias_ ? &params_[1] : nullptr, y, geometry_);
  return y;
}

Tensor Conv2d::backward(Backend& backend, const Tensor& x, const Tensor& dy, bool need_dx) {
  require_input(dy, output_shape(x.shape()), "dy");
  backend.conv2d_backward_filter(x, dy, grads_[0], has_bias_ ? &grads_[1] : nullptr, geometry_, GradMode::accumulate);
  if (!need_dx) return {};
  Tensor dx = backend.allocate(x.shape());
  backend.conv2d_backward_data(dy, params_[0], dx, geometry_, GradMode::overwrite);
  return dx;
}

void Conv2d::backward_add_dx(Backend& backend, const Tensor& x, const Tensor& dy, Tensor& dx_sum) {
  require_input(dy, output_shape(x.shape()), "dy");
  require_input(dx_sum, x.shape(), "dx_sum");
  backend.conv2d_backward_filter(x, dy, grads_[0], has_bias_ ? &grads_[1] : nullptr, geometry_, GradMode::accumulate);
  backend.conv2d_backward_data(dy, params_[0], dx_sum, geometry_, GradMode::accumulate);
}

Conv2d::StatsOutput Conv2d::forward_stats(Backend& backend, const Tensor& x, const NormRelu* input) const {
  CBEDNET_REQUIRE(bound(), Error, "layer ", name(), ": forward before its parameters were bound");
  CBEDNET_REQUIRE(!has_bias_, Error, "layer ", name(), ": the fused batch-norm path has no convolution bias");
  const Shape channels{1, out_channels_, 1, 1};
  StatsOutput out{backend.allocate(output_shape(x.shape())),
                  backend.allocate(channels, backend.param_dtype(), backend.layout()),
                  backend.allocate(channels, backend.param_dtype(), backend.layout())};
  backend.conv2d_stats_forward(x, input, params_[0], out.y, out.sum, out.sqsum, geometry_);
  return out;
}

Tensor Conv2d::backward_norm_relu(Backend& backend, const Tensor& x, const NormRelu& input, const Tensor& dy,
                                  Tensor& dgamma, Tensor& dbeta) {
  require_input(dy, output_shape(x.shape()), "dy");
  backend.conv2d_backward_filter_norm_relu(x, input, dy, grads_[0], geometry_, GradMode::accumulate);
  Tensor dx = backend.allocate(x.shape());
  backend.conv2d_backward_data_norm_relu(dy, params_[0], x, input, dx, dgamma, dbeta, geometry_, GradMode::accumulate);
  return dx;
}

}  // namespace cbednet
