// Softmax cross-entropy loss with optional label smoothing and per-class weights.
//
// The loss of a step is (1 / B) * sum over the global batch of w[label] * CE(label-smoothed target, softmax).
// It is normalised by the global batch size B, never by a rank's or micro-batch's share, so that sums over
// micro-batches and ranks give the serial result. Class weights are normalised by the caller (mean 1 over the
// training distribution) so that the loss scale does not depend on the weighting scheme.
#pragma once

#include <vector>

#include "core/layers/layer.hpp"

namespace cbednet {

class SoftmaxCrossEntropy {
 public:
  SoftmaxCrossEntropy(std::int64_t classes, double label_smoothing = 0.0, std::vector<double> class_weights = {});

  struct Output {
    Tensor probs;   // [N,K,1,1] param dtype
    Tensor losses;  // [N,1,1,1] param dtype, weighted, not yet divided by B
  };
  // logits [N,K,1,1]; labels [N,1,1,1] i32 on the backend's device (class index 0..K-1).
  Output forward(Backend& backend, const Tensor& logits, const Tensor& labels);
  // dlogits for the loss normalised by global_batch.
  // dlogits of the mean loss over the global batch, times loss_scale (dynamic loss scaling, loss_scaler.hpp).
  Tensor backward(Backend& backend, const Output& out, const Tensor& labels, std::int64_t global_batch,
                  double loss_scale = 1.0);

  std::int64_t classes() const { return classes_; }
  double label_smoothing() const { return label_smoothing_; }

 private:
  const Tensor* weights(Backend& backend);
  std::int64_t classes_;
  double label_smoothing_;
  std::vector<double> class_weights_host_;
  Tensor class_weights_;  // on the backend's device, created on first use
};

}  // namespace cbednet
