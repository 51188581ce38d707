// TrainingGraph: one whole serial training step (train_step.hpp's step: every micro-batch's forward, loss and
// backward, the batch-norm running statistics and the optimizer's update) recorded once with Backend::capture (a
// CUDA graph on the CUDA backend) and replayed for every following step, so that a step costs one graph launch
// instead of one host-side launch per operation. The same pattern as InferenceGraph (inference_graph.hpp).
//
// run() of a step:
// * the first call, and the first after the baked-in options changed, runs the step eagerly (the first-use work:
//   cuDNN algorithm finds and autotuning, cuBLAS setup, the allocator's cache must not happen while recording);
// * the next call records the step and replays it; later calls replay it.
// Eager and replayed steps run the same backend operations in the same order on the same inputs, so a replay gives
// the bits an eager step gives, and both give the parameters and running statistics of train_step.
//
// What the recording bakes in, so what may not change between replays: the images and labels tensors (their
// addresses: copy new batches INTO them; the serial benchmark trains on one fixed batch), the stage's parameters and
// buffers (their addresses), and every TrainStepOptions field except `step`: micro_batch, lr, bn_momentum, seed and
// loss_scale. run() compares them with the recorded ones and, when one changed, drops the recording, runs that step
// eagerly and records again on the next call. (A learning-rate schedule thus re-records every step: no gain.)
//
// Never recorded (run() is eager every step; eager_reason() says why):
// * a model with dropout: its masks are keyed by `step` (DropoutKey), which a recording would freeze;
// * an optimizer other than plain SGD: AdamW's and LAMB's bias corrections depend on the host's step counter, and
//   LARS and LAMB compute trust ratios per tensor;
// * gradient-norm clipping: Optimizer::step reads the norm back to the host (a synchronisation);
// * a backend that cannot record (the CPU backends, ProfilingBackend: Backend::capture returns nullptr).
//
// The step's loss statistics are accumulated on the device (Backend::loss_statistics) into one [1,2,1,1] tensor;
// stats() reads them back (one synchronisation, outside the recording). Unlike train_step, run() does not read
// anything back, so consecutive steps queue without waiting for each other.
//
// The CUDA recording was written and compiled without a GPU and has never run on one (tests/gpu/
// training_graph_test.cpp checks it where a device exists); on the CPU backends run() is always eager.
// The stage, loss, optimizer, tensors and backend must outlive the TrainingGraph.
#pragma once

#include <memory>
#include <string>

#include "core/model/train_step.hpp"
#include "kernels/backend.hpp"

namespace cbednet {

class TrainingGraph {
 public:
  // images: [B,C,H,W] on the stage's backend (its dtype and layout); labels: [B,1,1,1] i32 on the backend. The stage
  // must hold the whole model. record = false: every step eager (the same operations; what tests compare replays
  // with). Nothing runs yet.
  TrainingGraph(Stage& model, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor& images,
                const Tensor& labels, bool record = true);
  ~TrainingGraph();
  TrainingGraph(const TrainingGraph&) = delete;
  TrainingGraph& operator=(const TrainingGraph&) = delete;

  // One training step on images and labels with `options` (see above). Asynchronous like any backend operation.
  void run(const TrainStepOptions& options);
  // The last step's statistics (loss sum, correct, samples), read back from the device (synchronises).
  StepStats stats();

  // Whether the last run() replayed a recording.
  bool replayed() const { return replayed_; }
  // How many run() calls replayed a recording.
  std::int64_t replays() const { return replays_; }
  // Why steps are never recorded (empty: they are recorded where the backend can).
  const std::string& eager_reason() const { return eager_reason_; }

 private:
  // The step's backend operations: zero the gradients and statistics, every micro-batch, the update.
  void step(const TrainStepOptions& options);
  static bool same_recording(const TrainStepOptions& a, const TrainStepOptions& b);

  Stage& model_;
  SoftmaxCrossEntropy& loss_;
  Optimizer& optimizer_;
  Tensor images_, labels_;
  Tensor stats_;  // [1,2,1,1] param dtype: the step's loss sum and correct count
  std::string eager_reason_;
  bool backend_cannot_record_ = false;
  bool warmed_up_ = false;  // an eager step ran with recorded_options_
  bool replayed_ = false;
  std::int64_t replays_ = 0;
  TrainStepOptions recorded_options_;
  std::unique_ptr<CapturedWork> work_;  // declared last: destroyed first, before the tensors it writes
};

// Why a step of this model and optimizer cannot be recorded (empty: it can, where the backend records).
std::string training_graph_refusal(Stage& model, const Optimizer& optimizer);

}  // namespace cbednet
