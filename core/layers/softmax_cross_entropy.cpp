#include "core/layers/softmax_cross_entropy.hpp"

#include <algorithm>

namespace cbednet {

SoftmaxCrossEntropy::SoftmaxCrossEntropy(std::int64_t classes, double label_smoothing,
                                         std::vector<double> class_weights)
    : classes_(classes), label_smoothing_(label_smoothing), class_weights_host_(std::move(class_weights)) {
  if (classes <= 1) throw_error<InvalidArgument>("softmax cross-entropy: need at least 2 classes, got ", classes);
  if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
    throw_error<InvalidArgument>("--label-smoothing: must be in [0, 1), got ", label_smoothing);
  if (!class_weights_host_.empty() && static_cast<std::int64_t>(class_weights_host_.size()) != classes)
    throw_error<InvalidArgument>("class weights: ", class_weights_host_.size(), " weights for ", classes, " classes");
  if (std::any_of(class_weights_host_.begin(), class_weights_host_.end(), [](double w) { return !(w >= 0.0); }))
    throw_error<InvalidArgument>("class weights must be non-negative");
}

const Tensor* SoftmaxCrossEntropy::weights(Backend& backend) {
  if (class_weights_host_.empty()) return nullptr;
  if (class_weights_.empty()) {
    Tensor host({1, classes_, 1, 1}, DType::f64);
    std::copy(class_weights_host_.begin(), class_weights_host_.end(), host.data<double>());
    class_weights_ = backend.allocate({1, classes_, 1, 1}, backend.param_dtype(), backend.layout());
    backend.copy(host, class_weights_);
  }
  return &class_weights_;
}

SoftmaxCrossEntropy::Output SoftmaxCrossEntropy::forward(Backend& backend, const Tensor& logits, const Tensor& labels) {
  const Shape& s = logits.shape();
  if (s.c != classes_ || s.h != 1 || s.w != 1)
    throw_error<ShapeError>("loss: logits ", s.str(), " do not match ", classes_, " classes");
  require_shape(labels, {s.n, 1, 1, 1}, "loss: labels");
  Output out{backend.allocate(s, backend.param_dtype(), backend.layout()),
             backend.allocate({s.n, 1, 1, 1}, backend.param_dtype(), backend.layout())};
  backend.softmax_cross_entropy_forward(logits, labels, weights(backend), label_smoothing_, out.probs, out.losses);
  return out;
}

Tensor SoftmaxCrossEntropy::backward(Backend& backend, const Output& out, const Tensor& labels,
                                     std::int64_t global_batch, double loss_scale) {
  CBEDNET_ASSERT(global_batch > 0 && loss_scale > 0);
  Tensor dlogits = backend.allocate(out.probs.shape());
  // loss_scale / B rather than (1 / B) * loss_scale: for a power-of-two scale both are exact scalings of 1 / B.
  backend.softmax_cross_entropy_backward(out.probs, labels, weights(backend), label_smoothing_,
                                         loss_scale / static_cast<double>(global_batch), dlogits);
  return dlogits;
}

}  // namespace cbednet
