// Validation after each epoch: every sample of the validation split through the (possibly pipelined) model in
// evaluation mode, the metrics reduced over the world and put in the epoch's record. With a moving average of the
// weights (--ema-decay) the averaged weights are evaluated.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "core/parallel/hybrid_trainer.hpp"
#include "core/train/callback.hpp"
#include "core/train/evaluation.hpp"

namespace cbednet {

// Evaluation-mode predictions through the pipeline, collective over this replica's pipeline: stage 0 reads from
// `source` and drives (one flag per forward pass, then a stop flag); the other stages follow (pass nullptr).
// Returns stage 0's predictions (empty elsewhere).
Predictions pipeline_predictions(HybridTrainer& steps, BatchSource* source, ViewMode views, int classes);

class ValidationCallback : public TrainingCallback {
 public:
  // source: the validation split on stage-0 ranks (nullptr elsewhere); labels: its space groups (1..K) on every
  // rank; empty: a fresh accumulator with the problem's class tables.
  ValidationCallback(BatchSource* source, std::vector<std::int16_t> labels, ViewMode views, MetricsAccumulator empty,
                     MPI_Comm world)
      : source_(source), labels_(std::move(labels)), views_(views), empty_(std::move(empty)), world_(world) {}

  void on_epoch_end(Trainer& trainer, EpochRecord& record) override;

 private:
  BatchSource* source_;
  std::vector<std::int16_t> labels_;
  ViewMode views_;
  MetricsAccumulator empty_;
  MPI_Comm world_;
};

}  // namespace cbednet
