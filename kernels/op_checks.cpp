#include "kernels/op_checks.hpp"

#include <string>

namespace cbednet {
namespace {

enum class Kind { act, param, labels };

std::string str(const Tensor& t) { return t.shape().str(); }

void check_tensor(const TensorRules& r, const char* op, const char* name, const Tensor& t, Kind kind) {
  if (t.empty() && t.count() > 0) throw_error<ShapeError>(op, ": ", name, " ", str(t), " has no storage");
  if (t.device() != r.device)
    throw_error<InvalidArgument>(op, ": ", name, " is on the ", t.device() == Device::host ? "host" : "device",
                                 ", but the ", r.backend, " backend works on ",
                                 r.device == Device::host ? "host" : "device", " tensors (", t.describe(), ")");
  const DType want = kind == Kind::act ? r.act : kind == Kind::param ? r.param : DType::i32;
  if (t.dtype() != want)
    throw_error<ShapeError>(op, ": ", name, " ", t.describe(), " has dtype ", to_string(t.dtype()), ", the ", r.backend,
                            " backend expects ", to_string(want));
  const Shape& s = t.shape();
  if (!r.allow_nhwc && t.layout() == Layout::nhwc && s.c != 1 && s.h * s.w != 1)
    throw_error<ShapeError>(op, ": ", name, " ", t.describe(), " is NHWC; the ", r.backend,
                            " backend computes in NCHW (convert with copy())");
}

void expect(const char* op, const char* name, const Tensor& t, const Shape& want, const char* ref_name,
            const Tensor& ref) {
  if (t.shape() != want)
    throw_error<ShapeError>(op, ": ", name, " ", str(t), " does not match ", ref_name, " ", str(ref), ": expected ",
                            want.str());
}

Shape conv_output(const char* op, const Shape& x, std::int64_t k, const ConvGeometry& g) {
  try {
    return g.output_shape(x, k);
  } catch (const ShapeError& e) {
    throw_error<ShapeError>(op, ": ", e.what());
  }
}

Shape pool_output(const char* op, const Shape& x, const PoolGeometry& g) {
  try {
    return g.output_shape(x);
  } catch (const ShapeError& e) {
    throw_error<ShapeError>(op, ": ", e.what());
  }
}

Shape vec(std::int64_t c) { return {1, c, 1, 1}; }

void check_weights(const char* op, const Tensor& w, const char* ref_name, const Tensor& ref, const ConvGeometry& g) {
  const Shape want{w.shape().n, ref.shape().c, g.kernel_h, g.kernel_w};
  expect(op, "w", w, want, ref_name, ref);
}

// Ascending, non-overlapping segments inside a flat buffer of `elements` elements.
void check_segments(const char* op, std::span<const FlatSegment> segments, std::int64_t elements) {
  std::int64_t end = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const FlatSegment& s = segments[i];
    if (s.offset < 0 || s.count < 0 || s.offset > elements || s.count > elements - s.offset)
      throw_error<ShapeError>(op, ": segment ", i, " [", s.offset, ", +", s.count, ") lies outside the ", elements,
                              " elements of the buffers");
    if (s.offset < end)
      throw_error<ShapeError>(op, ": segment ", i, " starts at ", s.offset, ", before the end ", end,
                              " of the one before (segments must be ascending and must not overlap)");
    end = s.offset + s.count;
  }
}

void check_eps(const char* op, double eps) {
  if (!(eps >= 0.0)) throw_error<InvalidArgument>(op, ": eps must be >= 0, got ", eps);
}

}  // namespace

namespace {
void check_conv2d_forward_as(const char* op, const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor* bias,
                             const Tensor& y, const ConvGeometry& g) {
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "w", w, Kind::act);
  check_tensor(r, op, "y", y, Kind::act);
  check_weights(op, w, "x", x, g);
  expect(op, "y", y, conv_output(op, x.shape(), w.shape().n, g), "x", x);
  if (bias) {
    check_tensor(r, op, "bias", *bias, Kind::act);
    expect(op, "bias", *bias, vec(w.shape().n), "w", w);
  }
}
}  // namespace

void check_conv2d_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                          const ConvGeometry& g) {
  check_conv2d_forward_as("conv2d_forward", r, x, w, bias, y, g);
}

void check_conv2d_bias_act_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor& bias,
                                   const Tensor* residual, const Tensor& y, const ConvGeometry& g) {
  const char* op = "conv2d_bias_act_forward";
  check_conv2d_forward_as(op, r, x, w, &bias, y, g);
  if (residual) {
    check_tensor(r, op, "residual", *residual, Kind::act);
    expect(op, "residual", *residual, y.shape(), "y", y);
  }
}

void check_conv2d_backward_data(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& dx,
                                const ConvGeometry& g) {
  const char* op = "conv2d_backward_data";
  check_tensor(r, op, "dy", dy, Kind::act);
  check_tensor(r, op, "w", w, Kind::act);
  check_tensor(r, op, "dx", dx, Kind::act);
  check_weights(op, w, "dx", dx, g);
  expect(op, "dy", dy, conv_output(op, dx.shape(), w.shape().n, g), "dx", dx);
}

void check_conv2d_backward_filter(const TensorRules& r, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                  const Tensor* dbias, const ConvGeometry& g) {
  const char* op = "conv2d_backward_filter";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "dy", dy, Kind::act);
  check_tensor(r, op, "dw", dw, Kind::act);
  expect(op, "dw", dw, Shape{dy.shape().c, x.shape().c, g.kernel_h, g.kernel_w}, "x", x);
  expect(op, "dy", dy, conv_output(op, x.shape(), dw.shape().n, g), "x", x);
  if (dbias) {
    check_tensor(r, op, "dbias", *dbias, Kind::act);
    expect(op, "dbias", *dbias, vec(dw.shape().n), "dw", dw);
  }
}

namespace {
// What both batch-norm forwards check of their activations: eps, x, y and the optional residual.
void check_batchnorm_activations(const TensorRules& r, const char* op, const Tensor& x, const Tensor* residual,
                                 double eps, const Tensor& y) {
  check_eps(op, eps);
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "y", y, Kind::act);
  expect(op, "y", y, x.shape(), "x", x);
  if (residual) {
    check_tensor(r, op, "residual", *residual, Kind::act);
    expect(op, "residual", *residual, x.shape(), "x", x);
  }
}
}  // namespace

void check_batchnorm_forward_training(const TensorRules& r, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      const Tensor* residual, double eps, const Tensor& y, const Tensor& mean,
                                      const Tensor& var, const Tensor& invstd) {
  const char* op = "batchnorm_forward_training";
  check_batchnorm_activations(r, op, x, residual, eps, y);
  const Shape c = vec(x.shape().c);
  for (auto [name, t] :
       {std::pair{"gamma", &gamma}, {"beta", &beta}, {"mean", &mean}, {"var", &var}, {"invstd", &invstd}}) {
    check_tensor(r, op, name, *t, Kind::param);
    expect(op, name, *t, c, "x", x);
  }
}

void check_batchnorm_forward_inference(const TensorRules& r, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                       const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                       double eps, const Tensor& y) {
  const char* op = "batchnorm_forward_inference";
  check_batchnorm_activations(r, op, x, residual, eps, y);
  const Shape c = vec(x.shape().c);
  for (auto [name, t] :
       {std::pair{"gamma", &gamma}, {"beta", &beta}, {"running_mean", &running_mean}, {"running_var", &running_var}}) {
    check_tensor(r, op, name, *t, Kind::param);
    expect(op, name, *t, c, "x", x);
  }
}

void check_batchnorm_backward(const TensorRules& r, const Tensor& x, const Tensor& y, const Tensor& dy,
                              const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& invstd,
                              const Tensor& dx, const Tensor* dresidual, const Tensor& dgamma, const Tensor& dbeta) {
  const char* op = "batchnorm_backward";
  check_tensor(r, op, "x", x, Kind::act);
  for (auto [name, t] : {std::pair{"y", &y}, {"dy", &dy}, {"dx", &dx}}) {
    check_tensor(r, op, name, *t, Kind::act);
    expect(op, name, *t, x.shape(), "x", x);
  }
  if (dresidual) {
    check_tensor(r, op, "dresidual", *dresidual, Kind::act);
    expect(op, "dresidual", *dresidual, x.shape(), "x", x);
  }
  const Shape c = vec(x.shape().c);
  for (auto [name, t] : {std::pair{"gamma", &gamma},
                         {"beta", &beta},
                         {"mean", &mean},
                         {"invstd", &invstd},
                         {"dgamma", &dgamma},
                         {"dbeta", &dbeta}}) {
    check_tensor(r, op, name, *t, Kind::param);
    expect(op, name, *t, c, "x", x);
  }
}

void check_same_shape(const TensorRules& r, const char* op,
                      std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  const auto& first = *ts.begin();
  for (const auto& [name, t] : ts) {
    check_tensor(r, op, name, *t, Kind::act);
    expect(op, name, *t, first.second->shape(), first.first, *first.second);
  }
}

void check_dropout_forward(const TensorRules& r, const Tensor& x, double p, const Tensor& y, const Tensor& mask) {
  const char* op = "dropout_forward";
  if (!(p >= 0.0 && p < 1.0)) throw_error<InvalidArgument>(op, ": drop probability p must be in [0, 1), got ", p);
  check_same_shape(r, op, {{"x", &x}, {"y", &y}, {"mask", &mask}});
}

void check_maxpool_forward(const TensorRules& r, const Tensor& x, const Tensor& y, const PoolGeometry& g) {
  const char* op = "maxpool_forward";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "y", y, Kind::act);
  expect(op, "y", y, pool_output(op, x.shape(), g), "x", x);
}

void check_maxpool_backward(const TensorRules& r, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx,
                            const PoolGeometry& g) {
  const char* op = "maxpool_backward";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "dx", dx, Kind::act);
  expect(op, "dx", dx, x.shape(), "x", x);
  const Shape out = pool_output(op, x.shape(), g);
  for (auto [name, t] : {std::pair{"y", &y}, {"dy", &dy}}) {
    check_tensor(r, op, name, *t, Kind::act);
    expect(op, name, *t, out, "x", x);
  }
}

void check_global_avgpool(const TensorRules& r, const char* op, const char* big_name, const Tensor& big,
                          const char* pooled_name, const Tensor& pooled) {
  check_tensor(r, op, big_name, big, Kind::act);
  check_tensor(r, op, pooled_name, pooled, Kind::act);
  expect(op, pooled_name, pooled, Shape{big.shape().n, big.shape().c, 1, 1}, big_name, big);
}

void check_linear_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y) {
  const char* op = "linear_forward";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "w", w, Kind::act);
  check_tensor(r, op, "y", y, Kind::act);
  expect(op, "x", x, Shape{x.shape().n, x.shape().c, 1, 1}, "x", x);
  expect(op, "w", w, Shape{w.shape().n, x.shape().c, 1, 1}, "x", x);
  expect(op, "y", y, Shape{x.shape().n, w.shape().n, 1, 1}, "w", w);
  if (b) {
    check_tensor(r, op, "b", *b, Kind::act);
    expect(op, "b", *b, vec(w.shape().n), "w", w);
  }
}

void check_linear_backward_data(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& dx) {
  const char* op = "linear_backward_data";
  check_tensor(r, op, "dy", dy, Kind::act);
  check_tensor(r, op, "w", w, Kind::act);
  check_tensor(r, op, "dx", dx, Kind::act);
  expect(op, "w", w, Shape{w.shape().n, w.shape().c, 1, 1}, "w", w);
  expect(op, "dy", dy, Shape{dy.shape().n, w.shape().n, 1, 1}, "w", w);
  expect(op, "dx", dx, Shape{dy.shape().n, w.shape().c, 1, 1}, "w", w);
}

void check_linear_backward_weights(const TensorRules& r, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                   const Tensor* db) {
  const char* op = "linear_backward_weights";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "dy", dy, Kind::act);
  check_tensor(r, op, "dw", dw, Kind::act);
  expect(op, "x", x, Shape{x.shape().n, x.shape().c, 1, 1}, "x", x);
  expect(op, "dy", dy, Shape{x.shape().n, dy.shape().c, 1, 1}, "x", x);
  expect(op, "dw", dw, Shape{dy.shape().c, x.shape().c, 1, 1}, "x", x);
  if (db) {
    check_tensor(r, op, "db", *db, Kind::act);
    expect(op, "db", *db, vec(dy.shape().c), "dy", dy);
  }
}

namespace {
void check_labels_and_weights(const TensorRules& r, const char* op, const Tensor& labels, const Tensor* class_weights,
                              double label_smoothing, const Tensor& ref) {
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw_error<InvalidArgument>(op, ": label smoothing must be in [0, 1], got ", label_smoothing);
  const std::int64_t n = ref.shape().n, k = ref.shape().c;
  check_tensor(r, op, "labels", labels, Kind::labels);
  expect(op, "labels", labels, Shape{n, 1, 1, 1}, "logits", ref);
  if (class_weights) {
    check_tensor(r, op, "class_weights", *class_weights, Kind::param);
    expect(op, "class_weights", *class_weights, vec(k), "logits", ref);
  }
  if (labels.device() != Device::host) return;  // see check_softmax_cross_entropy_forward in op_checks.hpp
  const std::int32_t* l = labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i)
    if (l[i] < 0 || l[i] >= k)
      throw_error<InvalidArgument>(op, ": label ", l[i], " of sample ", i, " is outside 0..", k - 1);
}
}  // namespace

void check_softmax_cross_entropy_forward(const TensorRules& r, const Tensor& logits, const Tensor& labels,
                                         const Tensor* class_weights, double label_smoothing, const Tensor& probs,
                                         const Tensor& losses) {
  const char* op = "softmax_cross_entropy_forward";
  check_tensor(r, op, "logits", logits, Kind::act);
  const Shape& s = logits.shape();
  expect(op, "logits", logits, Shape{s.n, s.c, 1, 1}, "logits", logits);
  check_tensor(r, op, "probs", probs, Kind::param);
  expect(op, "probs", probs, s, "logits", logits);
  check_tensor(r, op, "losses", losses, Kind::param);
  expect(op, "losses", losses, Shape{s.n, 1, 1, 1}, "logits", logits);
  check_labels_and_weights(r, op, labels, class_weights, label_smoothing, logits);
}

void check_softmax_cross_entropy_backward(const TensorRules& r, const Tensor& probs, const Tensor& labels,
                                          const Tensor* class_weights, double label_smoothing, const Tensor& dlogits) {
  const char* op = "softmax_cross_entropy_backward";
  check_tensor(r, op, "probs", probs, Kind::param);
  const Shape& s = probs.shape();
  expect(op, "probs", probs, Shape{s.n, s.c, 1, 1}, "probs", probs);
  check_tensor(r, op, "dlogits", dlogits, Kind::act);
  expect(op, "dlogits", dlogits, s, "probs", probs);
  check_labels_and_weights(r, op, labels, class_weights, label_smoothing, probs);
}

void check_loss_statistics(const TensorRules& r, const Tensor& probs, const Tensor& losses, const Tensor& labels,
                           const Tensor& stats) {
  const char* op = "loss_statistics";
  check_tensor(r, op, "probs", probs, Kind::param);
  const Shape& s = probs.shape();
  expect(op, "probs", probs, Shape{s.n, s.c, 1, 1}, "probs", probs);
  check_tensor(r, op, "losses", losses, Kind::param);
  expect(op, "losses", losses, Shape{s.n, 1, 1, 1}, "probs", probs);
  check_tensor(r, op, "stats", stats, Kind::param);
  expect(op, "stats", stats, Shape{1, 2, 1, 1}, "stats", stats);
  check_labels_and_weights(r, op, labels, nullptr, 0.0, probs);
}

namespace {
// param, grad and momentum of an SGD update: param dtype, one shape, one layout.
void check_sgd_buffers(const TensorRules& r, const char* op, const Tensor& param, const Tensor& grad,
                       const Tensor& momentum) {
  for (auto [name, t] : {std::pair{"param", &param}, {"grad", &grad}, {"momentum", &momentum}}) {
    check_tensor(r, op, name, *t, Kind::param);
    expect(op, name, *t, param.shape(), "param", param);
    if (t->layout() != param.layout())
      throw_error<ShapeError>(op, ": ", name, " ", t->describe(), " has another layout than param ", param.describe());
  }
}
}  // namespace

void check_sgd_update(const TensorRules& r, const Tensor& param, const Tensor& grad, const Tensor& momentum) {
  check_sgd_buffers(r, "sgd_update", param, grad, momentum);
}

void check_sgd_update_segments(const TensorRules& r, const Tensor& param, const Tensor& grad, const Tensor& momentum,
                               std::span<const FlatSegment> segments) {
  const char* op = "sgd_update_segments";
  check_sgd_buffers(r, op, param, grad, momentum);
  check_segments(op, segments, param.count());
}

void check_copy_segments(const TensorRules& r, const Tensor& src, const Tensor& dst,
                         std::span<const FlatSegment> segments) {
  const char* op = "copy_segments";
  for (auto [name, t] : {std::pair{"src", &src}, {"dst", &dst}})
    check_tensor(r, op, name, *t, t->dtype() == r.act ? Kind::act : Kind::param);
  expect(op, "dst", dst, src.shape(), "src", src);
  if (dst.layout() != src.layout())
    throw_error<ShapeError>(op, ": dst ", dst.describe(), " has another layout than src ", src.describe());
  check_segments(op, segments, src.count());
}

void check_fold_running_statistics(const TensorRules& r, const Tensor& running, const Tensor& sums, double momentum,
                                   double micro_batches) {
  const char* op = "fold_running_statistics";
  check_tensor(r, op, "running", running, Kind::param);
  check_tensor(r, op, "sums", sums, Kind::param);
  expect(op, "sums", sums, running.shape(), "running", running);
  if (sums.layout() != running.layout())
    throw_error<ShapeError>(op, ": sums ", sums.describe(), " has another layout than running ", running.describe());
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw_error<InvalidArgument>(op, ": momentum must be in [0, 1], got ", momentum);
  if (!(micro_batches > 0.0)) throw_error<InvalidArgument>(op, ": micro_batches must be > 0, got ", micro_batches);
}

// ---- fused batch norm ---------------------------------------------------------------------------------------

namespace {
void check_channels(const TensorRules& r, const char* op,
                    std::initializer_list<std::pair<const char*, const Tensor*>> ts, std::int64_t channels,
                    const char* ref_name, const Tensor& ref) {
  for (const auto& [name, t] : ts) {
    check_tensor(r, op, name, *t, Kind::param);
    expect(op, name, *t, vec(channels), ref_name, ref);
  }
}

void check_norm_relu(const TensorRules& r, const char* op, const NormRelu& n, const char* ref_name, const Tensor& ref) {
  check_channels(r, op,
                 {{"input.gamma", &n.gamma},
                  {"input.beta", &n.beta},
                  {"input.mean", &n.mean},
                  {"input.invstd", &n.invstd},
                  {"input.scale", &n.scale},
                  {"input.bias", &n.bias}},
                 ref.shape().c, ref_name, ref);
}
}  // namespace

void check_conv2d_stats_forward(const TensorRules& r, const Tensor& x, const NormRelu* input, const Tensor& w,
                                const Tensor& y, const Tensor& sum, const Tensor& sqsum, const ConvGeometry& g) {
  const char* op = "conv2d_stats_forward";
  check_conv2d_forward_as(op, r, x, w, nullptr, y, g);
  if (input) check_norm_relu(r, op, *input, "x", x);
  check_channels(r, op, {{"sum", &sum}, {"sqsum", &sqsum}}, y.shape().c, "y", y);
}

void check_batchnorm_finalize(const TensorRules& r, const Tensor& sum, const Tensor& sqsum, std::int64_t count,
                              const Tensor& gamma, const Tensor& beta, double eps, const Tensor& scale,
                              const Tensor& bias, const Tensor& mean, const Tensor& var, const Tensor& invstd,
                              const Tensor* step_mean_sum, const Tensor* step_var_sum) {
  const char* op = "batchnorm_finalize";
  check_eps(op, eps);
  if (count < 2)
    throw_error<InvalidArgument>(op, ": batch statistics need at least 2 values per channel, got count ", count);
  check_tensor(r, op, "sum", sum, Kind::param);
  const std::int64_t c = sum.shape().c;
  check_channels(r, op,
                 {{"sum", &sum},
                  {"sqsum", &sqsum},
                  {"gamma", &gamma},
                  {"beta", &beta},
                  {"scale", &scale},
                  {"bias", &bias},
                  {"mean", &mean},
                  {"var", &var},
                  {"invstd", &invstd}},
                 c, "sum", sum);
  if (step_mean_sum) check_channels(r, op, {{"step_mean_sum", step_mean_sum}}, c, "sum", sum);
  if (step_var_sum) check_channels(r, op, {{"step_var_sum", step_var_sum}}, c, "sum", sum);
}

void check_scale_bias_act_forward(const TensorRules& r, const Tensor& x, const Tensor& scale, const Tensor& bias,
                                  const Tensor* residual, const Tensor* residual_scale, const Tensor* residual_bias,
                                  const Tensor& y) {
  const char* op = "scale_bias_act_forward";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "y", y, Kind::act);
  expect(op, "y", y, x.shape(), "x", x);
  check_channels(r, op, {{"scale", &scale}, {"bias", &bias}}, x.shape().c, "x", x);
  if ((residual_scale == nullptr) != (residual_bias == nullptr))
    throw_error<InvalidArgument>(op, ": residual_scale and residual_bias come together (one of them is missing)");
  if (residual_scale && !residual)
    throw_error<InvalidArgument>(op, ": residual_scale and residual_bias were given without a residual");
  if (residual) {
    check_tensor(r, op, "residual", *residual, Kind::act);
    expect(op, "residual", *residual, x.shape(), "x", x);
  }
  if (residual_scale)
    check_channels(r, op, {{"residual_scale", residual_scale}, {"residual_bias", residual_bias}}, x.shape().c, "x", x);
}

void check_conv2d_backward_filter_norm_relu(const TensorRules& r, const Tensor& x, const NormRelu& input,
                                            const Tensor& dy, const Tensor& dw, const ConvGeometry& g) {
  const char* op = "conv2d_backward_filter_norm_relu";
  check_tensor(r, op, "x", x, Kind::act);
  check_tensor(r, op, "dy", dy, Kind::act);
  check_tensor(r, op, "dw", dw, Kind::act);
  expect(op, "dw", dw, Shape{dy.shape().c, x.shape().c, g.kernel_h, g.kernel_w}, "x", x);
  expect(op, "dy", dy, conv_output(op, x.shape(), dw.shape().n, g), "x", x);
  check_norm_relu(r, op, input, "x", x);
}

void check_conv2d_backward_data_norm_relu(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& x,
                                          const NormRelu& input, const Tensor& dx, const Tensor& dgamma,
                                          const Tensor& dbeta, const ConvGeometry& g) {
  const char* op = "conv2d_backward_data_norm_relu";
  for (auto [name, t] : {std::pair{"dy", &dy}, {"w", &w}, {"x", &x}, {"dx", &dx}})
    check_tensor(r, op, name, *t, Kind::act);
  expect(op, "dx", dx, x.shape(), "x", x);
  check_weights(op, w, "x", x, g);
  expect(op, "dy", dy, conv_output(op, x.shape(), w.shape().n, g), "x", x);
  check_norm_relu(r, op, input, "x", x);
  check_channels(r, op, {{"dgamma", &dgamma}, {"dbeta", &dbeta}}, x.shape().c, "x", x);
}

}  // namespace cbednet
