// Running a trained model over a data split: class probabilities per sample (with test-time averaging over the
// three projections in ViewMode::random) and the metrics of core/metrics.hpp, reduced over all ranks.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "app/run_setup.hpp"
#include "core/metrics.hpp"
#include "core/model/stage.hpp"

namespace cbednet::app {

// This rank's share of the predictions: probs is [samples x classes], row i for loader index indices[i].
struct Predictions {
  std::vector<std::int64_t> indices;
  std::vector<double> probs;
  int classes = 0;
};

// Evaluation-mode logits (host f64 [n,K,1,1]) of a host image batch: a whole model on this rank, or a pipeline.
using LogitsFunction = std::function<Tensor(const Tensor& images)>;

// One pass over every sample of the loader's data (epoch 0, unshuffled).
Predictions predict_all(io::DistributedLoader& loader, ViewMode views, int classes, const LogitsFunction& logits);
Predictions predict_all(Stage& model, io::DistributedLoader& loader, ViewMode views);

// Metrics of the predictions against the labels (space groups 1..230 by sample index), summed over comm (every
// rank of comm gets the totals; ranks without predictions contribute nothing).
MetricsAccumulator evaluate_predictions(const Predictions& p, const std::vector<std::int16_t>& labels, int classes,
                                        MPI_Comm comm);

// Image batch for the model: the whole stack, or channel `view` of it ([b,3,H,W] -> [b,1,H,W]).
Tensor select_view(const Tensor& images, int view);

// Softmax of host f64 logits rows [N,K,1,1], in place.
void softmax_rows(Tensor& logits);

}  // namespace cbednet::app
