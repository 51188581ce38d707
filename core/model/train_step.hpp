// One training step on a single stage holding the whole model (serial training; the pipeline executor of
// core/parallel does the same across ranks). The global batch is split into micro-batches that run one after
// another; gradients accumulate, the loss is normalised by the global batch, and batch-norm running
// statistics are updated once from the average of the micro-batch statistics.
#pragma once

#include "core/layers/softmax_cross_entropy.hpp"
#include "core/model/stage.hpp"
#include "core/optim/sgd.hpp"

namespace cbednet {

struct StepStats {
  double loss_sum = 0.0;     // sum of per-sample (weighted) losses over the batch
  std::int64_t correct = 0;  // top-1 correct
  std::int64_t samples = 0;
  bool nonfinite = false;  // a NaN/Inf loss or gradient: the update was not applied (HybridTrainer)
  double mean_loss() const { return samples > 0 ? loss_sum / static_cast<double>(samples) : 0.0; }
};

struct TrainStepOptions {
  std::int64_t micro_batch = 0;  // 0: the whole batch at once
  double lr = 0.1;
  double bn_momentum = 0.1;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  // Dynamic loss scaling (core/optim/loss_scaler.hpp): the loss gradient is multiplied by it, the update divides
  // by it. 1: none.
  double loss_scale = 1.0;
};

// The two halves of a step, for data-parallel training (gradients are reduced in between):
// forward and backward of this rank's share [b samples] of a global batch of global_batch samples, in
// micro-batches; gradients accumulate (the caller zeroes them). first_sample: global index of images[0] within
// the step's global batch (dropout masks are keyed by it).
StepStats accumulate_gradients(Stage& model, SoftmaxCrossEntropy& loss, const Tensor& images, const Tensor& labels,
                               std::int64_t global_batch, std::int64_t first_sample, const TrainStepOptions& options);
// Folds the step's batch-norm statistics (averaged over total_micro_batches) into the running averages and
// updates the parameters. square_sum_total: how gradient-norm clipping sums over the whole model when `model` is
// one pipeline stage (Optimizer::step; empty: the stage is the whole model).
void apply_update(Stage& model, Optimizer& optimizer, std::int64_t total_micro_batches, const TrainStepOptions& options,
                  const SquareSumTotal& square_sum_total = {});

// The loss end of one micro-batch, shared by the serial step and a pipeline's last stage: the loss of `logits`
// against host i32 labels [b,1,1,1], its statistics (loss sum, top-1 correct, samples) added to `stats`, and
// dlogits returned, scaled by loss_scale / global_batch (the loss is normalised by the global batch, never by a
// rank's or micro-batch's share).
Tensor loss_and_gradient(Backend& backend, SoftmaxCrossEntropy& loss, const Tensor& logits, const Tensor& host_labels,
                         std::int64_t global_batch, double loss_scale, StepStats& stats);

// images: host f32/f64 [B,C,H,W]; labels: host i32 [B,1,1,1] (class index 0..K-1).
StepStats train_step(Stage& model, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor& images,
                     const Tensor& labels, const TrainStepOptions& options);

// Evaluation-mode logits copied to the host as f64 [B,K,1,1], computed in chunks of at most `chunk` samples.
Tensor predict_logits(Stage& model, const Tensor& images, std::int64_t chunk = 64);

// Moves a host batch to the backend (dtype and layout of the backend). overlap: through Backend::upload_async, so
// the copy may run while work already queued computes.
Tensor upload(Backend& backend, const Tensor& host, bool overlap = false);
Tensor upload_labels(Backend& backend, const Tensor& host_labels);
Tensor download_f64(Backend& backend, const Tensor& device);

// Whether any gradient of the store holds a NaN or an infinity; first_nonfinite_gradient names the first such
// parameter in model order (empty when none).
bool has_nonfinite_gradient(ParamStore& store);
std::string first_nonfinite_gradient(ParamStore& store);

// Index of the largest value per row of a [N,K,1,1] host f64 tensor.
std::vector<std::int64_t> argmax_rows(const Tensor& host_f64);

}  // namespace cbednet
