#include "core/layers/layer.hpp"

namespace cbednet {

bool is_decayed(ParamKind kind) { return kind == ParamKind::conv_weight || kind == ParamKind::linear_weight; }

bool in_compute_dtype(ParamKind kind) { return kind != ParamKind::bn_gamma && kind != ParamKind::bn_beta; }

std::int64_t Layer::parameter_count() const {
  std::int64_t total = 0;
  for (const auto& spec : param_specs()) total += spec.shape.count();
  return total;
}

void Layer::bind(std::vector<Tensor> params, std::vector<Tensor> grads, std::vector<Tensor> buffers) {
  const auto specs = param_specs();
  CBEDNET_ASSERT(params.size() == specs.size() && grads.size() == specs.size());
  CBEDNET_ASSERT(buffers.size() == buffer_specs().size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    require_input(params[i], specs[i].shape, specs[i].name.c_str());
    require_input(grads[i], specs[i].shape, specs[i].name.c_str());
  }
  params_ = std::move(params);
  grads_ = std::move(grads);
  buffers_ = std::move(buffers);
}

void Layer::require_input(const Tensor& t, const Shape& expected, const char* what) const {
  if (t.shape() != expected)
    fail_shape(std::string(what) + ": expected " + expected.str() + ", got " + t.shape().str());
}

void Layer::fail_shape(const std::string& message) const { throw_error<ShapeError>("layer ", name_, ": ", message); }

}  // namespace cbednet
