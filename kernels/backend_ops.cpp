// Backend's public operations: the shared checks of op_checks.hpp against the backend's rules(), then the
// backend's do_<operation>. Nothing else belongs here: behaviour lives in the implementations.
#include "kernels/backend.hpp"
#include "kernels/op_checks.hpp"

namespace cbednet {

// ---- convolution ----------------------------------------------------------------------------------------------

void Backend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const ConvGeometry& g) {
  check_conv2d_forward(rules(), x, w, bias, y, g);
  do_conv2d_forward(x, w, bias, y, g);
}

void Backend::conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                   GradMode mode) {
  check_conv2d_backward_data(rules(), dy, w, dx, g);
  do_conv2d_backward_data(dy, w, dx, g, mode);
}

void Backend::conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                     const ConvGeometry& g, GradMode mode) {
  check_conv2d_backward_filter(rules(), x, dy, dw, dbias, g);
  do_conv2d_backward_filter(x, dy, dw, dbias, g, mode);
}

void Backend::conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                      Activation act, Tensor& y, const ConvGeometry& g) {
  check_conv2d_bias_act_forward(rules(), x, w, bias, residual, y, g);
  do_conv2d_bias_act_forward(x, w, bias, residual, act, y, g);
}

// ---- batch norm -----------------------------------------------------------------------------------------------

void Backend::batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                         const Tensor* residual, Activation act, double eps, Tensor& y, Tensor& mean,
                                         Tensor& var, Tensor& invstd) {
  check_batchnorm_forward_training(rules(), x, gamma, beta, residual, eps, y, mean, var, invstd);
  do_batchnorm_forward_training(x, gamma, beta, residual, act, eps, y, mean, var, invstd);
}

void Backend::batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                          Activation act, double eps, Tensor& y) {
  check_batchnorm_forward_inference(rules(), x, gamma, beta, running_mean, running_var, residual, eps, y);
  do_batchnorm_forward_inference(x, gamma, beta, running_mean, running_var, residual, act, eps, y);
}

void Backend::batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                 const Tensor& beta, const Tensor& mean, const Tensor& invstd, Activation act,
                                 Tensor& dx, Tensor* dresidual, Tensor& dgamma, Tensor& dbeta, GradMode mode) {
  check_batchnorm_backward(rules(), x, y, dy, gamma, beta, mean, invstd, dx, dresidual, dgamma, dbeta);
  do_batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, act, dx, dresidual, dgamma, dbeta, mode);
}

// ---- fused batch norm -----------------------------------------------------------------------------------------

void Backend::conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                                   Tensor& sqsum, const ConvGeometry& g) {
  check_conv2d_stats_forward(rules(), x, input, w, y, sum, sqsum, g);
  do_conv2d_stats_forward(x, input, w, y, sum, sqsum, g);
}

void Backend::batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count, const Tensor& gamma,
                                 const Tensor& beta, double eps, Tensor& scale, Tensor& bias, Tensor& mean, Tensor& var,
                                 Tensor& invstd, Tensor* step_mean_sum, Tensor* step_var_sum) {
  check_batchnorm_finalize(rules(), sum, sqsum, count, gamma, beta, eps, scale, bias, mean, var, invstd, step_mean_sum,
                           step_var_sum);
  do_batchnorm_finalize(sum, sqsum, count, gamma, beta, eps, scale, bias, mean, var, invstd, step_mean_sum,
                        step_var_sum);
}

void Backend::scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor* residual,
                                     const Tensor* residual_scale, const Tensor* residual_bias, Activation act,
                                     Tensor& y) {
  check_scale_bias_act_forward(rules(), x, scale, bias, residual, residual_scale, residual_bias, y);
  do_scale_bias_act_forward(x, scale, bias, residual, residual_scale, residual_bias, act, y);
}

void Backend::conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                               const ConvGeometry& g, GradMode mode) {
  check_conv2d_backward_filter_norm_relu(rules(), x, input, dy, dw, g);
  do_conv2d_backward_filter_norm_relu(x, input, dy, dw, g, mode);
}

void Backend::conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x, const NormRelu& input,
                                             Tensor& dx, Tensor& dgamma, Tensor& dbeta, const ConvGeometry& g,
                                             GradMode mode) {
  check_conv2d_backward_data_norm_relu(rules(), dy, w, x, input, dx, dgamma, dbeta, g);
  do_conv2d_backward_data_norm_relu(dy, w, x, input, dx, dgamma, dbeta, g, mode);
}

// ---- elementwise ----------------------------------------------------------------------------------------------

void Backend::relu_forward(const Tensor& x, Tensor& y) {
  check_same_shape(rules(), "relu_forward", {{"x", &x}, {"y", &y}});
  do_relu_forward(x, y);
}

void Backend::relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  check_same_shape(rules(), "relu_backward", {{"y", &y}, {"dy", &dy}, {"dx", &dx}});
  do_relu_backward(y, dy, dx);
}

void Backend::add(const Tensor& a, const Tensor& b, Tensor& y) {
  check_same_shape(rules(), "add", {{"a", &a}, {"b", &b}, {"y", &y}});
  do_add(a, b, y);
}

void Backend::dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) {
  check_dropout_forward(rules(), x, p, y, mask);
  do_dropout_forward(x, p, key, y, mask);
}

void Backend::dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  check_same_shape(rules(), "dropout_backward", {{"dy", &dy}, {"mask", &mask}, {"dx", &dx}});
  do_dropout_backward(dy, mask, dx);
}

// ---- pooling --------------------------------------------------------------------------------------------------

void Backend::maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) {
  check_maxpool_forward(rules(), x, y, g);
  do_maxpool_forward(x, y, g);
}

void Backend::maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, const PoolGeometry& g) {
  check_maxpool_backward(rules(), x, y, dy, dx, g);
  do_maxpool_backward(x, y, dy, dx, g);
}

void Backend::global_avgpool_forward(const Tensor& x, Tensor& y) {
  check_global_avgpool(rules(), "global_avgpool_forward", "x", x, "y", y);
  do_global_avgpool_forward(x, y);
}

void Backend::global_avgpool_backward(const Tensor& dy, Tensor& dx) {
  check_global_avgpool(rules(), "global_avgpool_backward", "dx", dx, "dy", dy);
  do_global_avgpool_backward(dy, dx);
}

// ---- fully connected ------------------------------------------------------------------------------------------

void Backend::linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  check_linear_forward(rules(), x, w, b, y);
  do_linear_forward(x, w, b, y);
}

void Backend::linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  check_linear_backward_data(rules(), dy, w, dx);
  do_linear_backward_data(dy, w, dx);
}

void Backend::linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db, GradMode mode) {
  check_linear_backward_weights(rules(), x, dy, dw, db);
  do_linear_backward_weights(x, dy, dw, db, mode);
}

// ---- loss and optimizer ---------------------------------------------------------------------------------------

void Backend::softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor* class_weights,
                                            double label_smoothing, Tensor& probs, Tensor& losses) {
  check_softmax_cross_entropy_forward(rules(), logits, labels, class_weights, label_smoothing, probs, losses);
  do_softmax_cross_entropy_forward(logits, labels, class_weights, label_smoothing, probs, losses);
}

void Backend::softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor* class_weights,
                                             double label_smoothing, double scale, Tensor& dlogits) {
  check_softmax_cross_entropy_backward(rules(), probs, labels, class_weights, label_smoothing, dlogits);
  do_softmax_cross_entropy_backward(probs, labels, class_weights, label_smoothing, scale, dlogits);
}

void Backend::sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  check_sgd_update(rules(), param, grad, momentum);
  do_sgd_update(param, grad, momentum, h);
}

void Backend::sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                  std::span<const FlatSegment> segments, const SgdUpdate& h) {
  check_sgd_update_segments(rules(), param, grad, momentum, segments);
  do_sgd_update_segments(param, grad, momentum, segments, h);
}

// ---- flat buffers ---------------------------------------------------------------------------------------------

void Backend::copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) {
  check_copy_segments(rules(), src, dst, segments);
  do_copy_segments(src, dst, segments);
}

void Backend::fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches) {
  check_fold_running_statistics(rules(), running, sums, momentum, micro_batches);
  do_fold_running_statistics(running, sums, momentum, micro_batches);
}

void Backend::loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats) {
  check_loss_statistics(rules(), probs, losses, labels, stats);
  do_loss_statistics(probs, losses, labels, stats);
}

}  // namespace cbednet
