#include "kernels/profiling_backend.hpp"

#include <algorithm>
#include <sstream>

namespace cbednet {

namespace {

std::string shape_key(const Tensor& t) {
  std::ostringstream s;
  const Shape& sh = t.shape();
  s << to_string(t.dtype()) << " [" << sh.n << ',' << sh.c << ',' << sh.h << ',' << sh.w << ']';
  return s.str();
}

}  // namespace

template <typename Op>
void ProfilingBackend::timed(const char* name, const Tensor& key, Op&& op) {
  inner_.synchronize();
  const auto start = std::chrono::steady_clock::now();
  op();
  inner_.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string shape = shape_key(key);
  Entry& e = times_[{name, shape}];
  if (e.calls == 0) {
    e.op = name;
    e.shape = std::move(shape);
  }
  ++e.calls;
  e.seconds += seconds;
}

std::vector<ProfilingBackend::Entry> ProfilingBackend::entries() const {
  std::vector<Entry> out;
  out.reserve(times_.size());
  for (const auto& [key, e] : times_) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
  return out;
}

void ProfilingBackend::copy(const Tensor& src, Tensor& dst) {
  timed("copy", dst, [&] { inner_.copy(src, dst); });
}
void ProfilingBackend::upload_async(const Tensor& host_src, Tensor& dst) {
  timed("upload", dst, [&] { inner_.upload_async(host_src, dst); });
}
void ProfilingBackend::fill(Tensor& t, double value) {
  timed("fill", t, [&] { inner_.fill(t, value); });
}
void ProfilingBackend::axpy(double alpha, const Tensor& x, Tensor& y) {
  timed("axpy", y, [&] { inner_.axpy(alpha, x, y); });
}
void ProfilingBackend::scale(Tensor& t, double alpha) {
  timed("scale", t, [&] { inner_.scale(t, alpha); });
}
bool ProfilingBackend::all_finite(const Tensor& t) {
  bool finite = true;
  timed("all_finite", t, [&] { finite = inner_.all_finite(t); });
  return finite;
}
void ProfilingBackend::do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                         const ConvGeometry& g) {
  timed("conv2d_forward", w, [&] { inner_.conv2d_forward(x, w, bias, y, g); });
}
void ProfilingBackend::do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                                  const Tensor* residual, Activation act, Tensor& y,
                                                  const ConvGeometry& g) {
  timed("conv2d_bias_act_forward", w, [&] { inner_.conv2d_bias_act_forward(x, w, bias, residual, act, y, g); });
}
void ProfilingBackend::do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y,
                                               Tensor& sum, Tensor& sqsum, const ConvGeometry& g) {
  timed("conv2d_stats_forward", w, [&] { inner_.conv2d_stats_forward(x, input, w, y, sum, sqsum, g); });
}
void ProfilingBackend::do_batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count,
                                             const Tensor& gamma, const Tensor& beta, double eps, Tensor& scale,
                                             Tensor& bias, Tensor& mean, Tensor& var, Tensor& invstd,
                                             Tensor* step_mean_sum, Tensor* step_var_sum) {
  timed("batchnorm_finalize", sum, [&] {
    inner_.batchnorm_finalize(sum, sqsum, count, gamma, beta, eps, scale, bias, mean, var, invstd, step_mean_sum,
                              step_var_sum);
  });
}
void ProfilingBackend::do_scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                                                 const Tensor* residual, const Tensor* residual_scale,
                                                 const Tensor* residual_bias, Activation act, Tensor& y) {
  timed("scale_bias_act_forward", x,
        [&] { inner_.scale_bias_act_forward(x, scale, bias, residual, residual_scale, residual_bias, act, y); });
}
void ProfilingBackend::do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy,
                                                           Tensor& dw, const ConvGeometry& g, GradMode mode) {
  timed("conv2d_backward_filter_norm_relu", dw,
        [&] { inner_.conv2d_backward_filter_norm_relu(x, input, dy, dw, g, mode); });
}
void ProfilingBackend::do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                         const NormRelu& input, Tensor& dx, Tensor& dgamma,
                                                         Tensor& dbeta, const ConvGeometry& g, GradMode mode) {
  timed("conv2d_backward_data_norm_relu", w,
        [&] { inner_.conv2d_backward_data_norm_relu(dy, w, x, input, dx, dgamma, dbeta, g, mode); });
}
void ProfilingBackend::do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                               GradMode mode) {
  timed("conv2d_backward_data", w, [&] { inner_.conv2d_backward_data(dy, w, dx, g, mode); });
}
void ProfilingBackend::do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                                 const ConvGeometry& g, GradMode mode) {
  timed("conv2d_backward_filter", dw, [&] { inner_.conv2d_backward_filter(x, dy, dw, dbias, g, mode); });
}
void ProfilingBackend::do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                     const Tensor* residual, Activation act, double eps, Tensor& y,
                                                     Tensor& mean, Tensor& var, Tensor& invstd) {
  timed(residual ? "batchnorm_add_forward_training" : "batchnorm_forward_training", x,
        [&] { inner_.batchnorm_forward_training(x, gamma, beta, residual, act, eps, y, mean, var, invstd); });
}
void ProfilingBackend::do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                      const Tensor& running_mean, const Tensor& running_var,
                                                      const Tensor* residual, Activation act, double eps, Tensor& y) {
  timed("batchnorm_forward_inference", x,
        [&] { inner_.batchnorm_forward_inference(x, gamma, beta, running_mean, running_var, residual, act, eps, y); });
}
void ProfilingBackend::do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                             const Tensor& beta, const Tensor& mean, const Tensor& invstd,
                                             Activation act, Tensor& dx, Tensor* dresidual, Tensor& dgamma,
                                             Tensor& dbeta, GradMode mode) {
  timed(dresidual ? "batchnorm_add_backward" : "batchnorm_backward", x, [&] {
    inner_.batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, act, dx, dresidual, dgamma, dbeta, mode);
  });
}
void ProfilingBackend::do_relu_forward(const Tensor& x, Tensor& y) {
  timed("relu_forward", x, [&] { inner_.relu_forward(x, y); });
}
void ProfilingBackend::do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  timed("relu_backward", y, [&] { inner_.relu_backward(y, dy, dx); });
}
void ProfilingBackend::do_add(const Tensor& a, const Tensor& b, Tensor& y) {
  timed("add", y, [&] { inner_.add(a, b, y); });
}
void ProfilingBackend::do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) {
  timed("dropout_forward", x, [&] { inner_.dropout_forward(x, p, key, y, mask); });
}
void ProfilingBackend::do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  timed("dropout_backward", dy, [&] { inner_.dropout_backward(dy, mask, dx); });
}
void ProfilingBackend::do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) {
  timed("maxpool_forward", x, [&] { inner_.maxpool_forward(x, y, g); });
}
void ProfilingBackend::do_maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                                           const PoolGeometry& g) {
  timed("maxpool_backward", x, [&] { inner_.maxpool_backward(x, y, dy, dx, g); });
}
void ProfilingBackend::do_global_avgpool_forward(const Tensor& x, Tensor& y) {
  timed("global_avgpool_forward", x, [&] { inner_.global_avgpool_forward(x, y); });
}
void ProfilingBackend::do_global_avgpool_backward(const Tensor& dy, Tensor& dx) {
  timed("global_avgpool_backward", dx, [&] { inner_.global_avgpool_backward(dy, dx); });
}
void ProfilingBackend::do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  timed("linear_forward", w, [&] { inner_.linear_forward(x, w, b, y); });
}
void ProfilingBackend::do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  timed("linear_backward_data", w, [&] { inner_.linear_backward_data(dy, w, dx); });
}
void ProfilingBackend::do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                                  GradMode mode) {
  timed("linear_backward_weights", dw, [&] { inner_.linear_backward_weights(x, dy, dw, db, mode); });
}
void ProfilingBackend::do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                        const Tensor* class_weights, double label_smoothing,
                                                        Tensor& probs, Tensor& losses) {
  timed("softmax_cross_entropy_forward", logits,
        [&] { inner_.softmax_cross_entropy_forward(logits, labels, class_weights, label_smoothing, probs, losses); });
}
void ProfilingBackend::do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                         const Tensor* class_weights, double label_smoothing,
                                                         double scale, Tensor& dlogits) {
  timed("softmax_cross_entropy_backward", dlogits,
        [&] { inner_.softmax_cross_entropy_backward(probs, labels, class_weights, label_smoothing, scale, dlogits); });
}
void ProfilingBackend::do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels,
                                          Tensor& stats) {
  timed("loss_statistics", probs, [&] { inner_.loss_statistics(probs, losses, labels, stats); });
}
void ProfilingBackend::do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  timed("sgd_update", param, [&] { inner_.sgd_update(param, grad, momentum, h); });
}
void ProfilingBackend::do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                              std::span<const FlatSegment> segments, const SgdUpdate& h) {
  timed("sgd_update_segments", param, [&] { inner_.sgd_update_segments(param, grad, momentum, segments, h); });
}
void ProfilingBackend::do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) {
  timed("copy_segments", dst, [&] { inner_.copy_segments(src, dst, segments); });
}
void ProfilingBackend::do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum,
                                                  double micro_batches) {
  // One operation of the inner backend (its scale, axpy and fill inside are not counted apart).
  timed("fold_running_statistics", running,
        [&] { inner_.fold_running_statistics(running, sums, momentum, micro_batches); });
}

}  // namespace cbednet
