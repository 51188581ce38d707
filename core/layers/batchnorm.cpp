#include "core/layers/batchnorm.hpp"

namespace cbednet {

namespace {
enum BufferIndex { running_mean_index = 0, running_var_index = 1, sum_mean = 2, sum_var = 3 };
}

BatchNorm::BatchNorm(std::string name, std::int64_t channels, Activation act, bool zero_init_gamma, double eps)
    : Layer(std::move(name)), channels_(channels), act_(act), zero_init_gamma_(zero_init_gamma), eps_(eps) {
  if (channels <= 0) fail_shape("invalid channel count " + std::to_string(channels));
}

Shape BatchNorm::output_shape(const Shape& in) const {
  if (in.c != channels_)
    fail_shape("input has " + std::to_string(in.c) + " channels, expected " + std::to_string(channels_));
  return in;
}

std::vector<ParamSpec> BatchNorm::param_specs() const {
  return {{"gamma", {1, channels_, 1, 1}, ParamKind::bn_gamma, 0, 0, zero_init_gamma_},
          {"beta", {1, channels_, 1, 1}, ParamKind::bn_beta}};
}

std::vector<BufferSpec> BatchNorm::buffer_specs() const {
  // The last two are per-step accumulators (see the header); the model does not checkpoint them.
  return {{"running_mean", {1, channels_, 1, 1}, 0.0},
          {"running_var", {1, channels_, 1, 1}, 1.0},
          {"step_sum_mean", {1, channels_, 1, 1}, 0.0, true},
          {"step_sum_var", {1, channels_, 1, 1}, 0.0, true}};
}

BatchNorm::TrainOutput BatchNorm::forward_train(Backend& backend, const Tensor& x, const Tensor* residual) {
  const Shape shape = output_shape(x.shape());
  if (shape.n * shape.h * shape.w < 2)
    fail_shape("batch statistics need at least 2 values per channel, input " + shape.str());
  if (residual != nullptr) require_input(*residual, shape, "residual");
  const Shape channel_shape{1, channels_, 1, 1};
  TrainOutput out{backend.allocate(shape),
                  {backend.allocate(channel_shape, backend.param_dtype(), backend.layout()),
                   backend.allocate(channel_shape, backend.param_dtype(), backend.layout()),
                   backend.allocate(channel_shape, backend.param_dtype(), backend.layout())}};
  backend.batchnorm_forward_training(x, params_[0], params_[1], residual, act_, eps_, out.y, out.saved.mean,
                                     out.saved.var, out.saved.invstd);
  backend.axpy(1.0, out.saved.mean, buffers_[sum_mean]);
  backend.axpy(1.0, out.saved.var, buffers_[sum_var]);
  return out;
}

Tensor BatchNorm::forward_eval(Backend& backend, const Tensor& x, const Tensor* residual) const {
  Tensor y = backend.allocate(output_shape(x.shape()));
  if (residual != nullptr) require_input(*residual, x.shape(), "residual");
  backend.batchnorm_forward_inference(x, params_[0], params_[1], buffers_[running_mean_index],
                                      buffers_[running_var_index], residual, act_, eps_, y);
  return y;
}

BatchNorm::Gradients BatchNorm::backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy,
                                         const BatchNormSaved& saved, bool had_residual) {
  require_input(dy, x.shape(), "dy");
  Gradients g{backend.allocate(x.shape()), had_residual ? backend.allocate(x.shape()) : Tensor{}};
  backend.batchnorm_backward(x, y, dy, params_[0], params_[1], saved.mean, saved.invstd, act_, g.dx,
                             had_residual ? &g.dresidual : nullptr, grads_[0], grads_[1], GradMode::accumulate);
  return g;
}

BatchNorm::Finalized BatchNorm::finalize(Backend& backend, const Tensor& sum, const Tensor& sqsum, std::int64_t count) {
  require_input(sum, {1, channels_, 1, 1}, "sum");
  if (count < 2) fail_shape("batch statistics need at least 2 values per channel, got " + std::to_string(count));
  const Shape channel_shape{1, channels_, 1, 1};
  const auto channel = [&] { return backend.allocate(channel_shape, backend.param_dtype(), backend.layout()); };
  Finalized f{channel(), channel(), {channel(), channel(), channel()}};
  backend.batchnorm_finalize(sum, sqsum, count, params_[0], params_[1], eps_, f.scale, f.bias, f.saved.mean,
                             f.saved.var, f.saved.invstd, &buffers_[sum_mean], &buffers_[sum_var]);
  return f;
}

NormRelu BatchNorm::as_input(const Finalized& f) const {
  CBEDNET_ASSERT(act_ == Activation::relu);
  return {params_[0], params_[1], f.saved.mean, f.saved.invstd, f.scale, f.bias};
}

Tensor BatchNorm::apply(Backend& backend, const Tensor& x, const Finalized& f, const Tensor& residual,
                        const Finalized* residual_norm) const {
  Tensor y = backend.allocate(output_shape(x.shape()));
  require_input(residual, x.shape(), "residual");
  backend.scale_bias_act_forward(x, f.scale, f.bias, &residual, residual_norm ? &residual_norm->scale : nullptr,
                                 residual_norm ? &residual_norm->bias : nullptr, act_, y);
  return y;
}

void BatchNorm::update_running_statistics(Backend& backend, double momentum, double micro_batches) {
  CBEDNET_ASSERT(micro_batches > 0);
  backend.scale(buffers_[running_mean_index], 1.0 - momentum);
  backend.axpy(momentum / micro_batches, buffers_[sum_mean], buffers_[running_mean_index]);
  backend.scale(buffers_[running_var_index], 1.0 - momentum);
  backend.axpy(momentum / micro_batches, buffers_[sum_var], buffers_[running_var_index]);
  backend.fill(buffers_[sum_mean], 0.0);
  backend.fill(buffers_[sum_var], 0.0);
}

}  // namespace cbednet
