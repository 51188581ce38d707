// One training step's micro-batch schedule on one rank of a P x D grid: the forward and backward ops of
// schedule.hpp (1F1B or GPipe) in order. Receives are posted one op ahead, stage 0 uploads micro-batch i+1 while
// i computes, the labels travel once from stage 0 to the last stage, the last stage computes the loss
// (loss_and_gradient, as the serial step does) and the final backward reports finished blocks to the gradient
// reducer. HybridTrainer::step (hybrid_trainer.hpp) checks the step, runs this, reduces and updates.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "core/batch_split.hpp"
#include "core/model/train_step.hpp"
#include "core/parallel/grad_reducer.hpp"
#include "core/parallel/grid.hpp"
#include "core/parallel/p2p.hpp"
#include "core/parallel/schedule.hpp"

namespace cbednet {

// Seconds spent by this rank in the last step.
struct StageTimings {
  double step = 0;         // the whole step
  double compute = 0;      // forward, loss and backward of its micro-batches
  double p2p_wait = 0;     // waiting for activations, gradients, labels and sends
  double reduce_wait = 0;  // waiting for the data-parallel reduction after the final backward
  double update = 0;       // running statistics and the optimizer step
  // Share of the pipeline phase spent waiting for neighbours: p2p_wait / (compute + p2p_wait).
  double bubble() const { return compute + p2p_wait > 0 ? p2p_wait / (compute + p2p_wait) : 0.0; }
};

// Message tags on a pipeline communicator: activations and gradients per micro-batch, the step's labels, and
// evaluation chunks.
inline int activation_tag(int micro) { return 4 * micro; }
inline int gradient_tag(int micro) { return 4 * micro + 1; }
inline constexpr int labels_tag = 3;
inline int eval_tag(std::int64_t chunk) { return static_cast<int>(4 * chunk + 2); }

class ScheduleRun {
 public:
  // What the step works on: on stage 0, replica d's host images [B/D,C,H,W] and labels [B/D,1,1,1] (nullptr
  // elsewhere); the checked split of the global batch; the global index of the replica's first sample.
  struct Work {
    const Tensor* images = nullptr;
    const Tensor* labels = nullptr;
    BatchSplit split;
    std::int64_t first_sample = 0;
  };
  // Everything is borrowed for the step. timings.compute and timings.p2p_wait are added to.
  ScheduleRun(Backend& backend, Stage& stage, const Grid& grid, Transport& pipe_transport, GradReducer& reducer,
              PipelineSchedule schedule, SoftmaxCrossEntropy& loss, const TrainStepOptions& options, Work work,
              StageTimings& timings);

  // Runs every op; returns the statistics of the micro-batches whose loss this rank computed (last stages).
  StepStats run();

 private:
  void forward(std::size_t k);
  void backward(std::size_t k);
  Tensor receive(std::size_t k);          // op k's activation or gradient from the neighbouring stage
  int next_of_kind(std::size_t k) const;  // micro-batch of the next op of op k's kind (-1: none)
  Tensor stage_input(int micro_batch);    // stage 0: micro-batch i of the images, uploaded asynchronously
  const Tensor& loss_labels();            // the last stage's labels of the step (received once when P > 1)

  Backend& backend_;
  Stage& stage_;
  const Grid& grid_;
  GradReducer& reducer_;
  SoftmaxCrossEntropy& loss_;
  const TrainStepOptions& options_;
  Work work_;
  StageTimings& timings_;
  TensorPipe pipe_;
  std::vector<PipeOp> ops_;
  std::size_t last_forward_ = 0;
  int posted_[2] = {-1, -1};        // handle of the receive posted ahead, per kind (forward, backward)
  int posted_micro_[2] = {-1, -1};  // and its micro-batch
  int labels_handle_ = -1;
  Tensor received_labels_;
  std::vector<Tensor> inputs_, dlogits_;
  std::vector<Stage::Context> contexts_;
  StepStats stats_;
};

}  // namespace cbednet
