// Running a model over a data split: class probabilities per sample (with test-time averaging over the three
// projections in ViewMode::random) and the metrics of core/metrics.hpp, reduced over all ranks.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/metrics.hpp"
#include "core/model/stage.hpp"
#include "core/train/batch_source.hpp"
#include "core/train/views.hpp"

namespace cbednet {

// This rank's share of the predictions: probs is [samples x classes], row i for source index indices[i].
struct Predictions {
  std::vector<std::int64_t> indices;
  std::vector<double> probs;
  int classes = 0;
};

// Evaluation-mode logits (host f64 [n,K,1,1]) of a host image batch: a whole model on this rank, or a pipeline.
using LogitsFunction = std::function<Tensor(const Tensor& images)>;

// One pass over every sample of the source (epoch 0; evaluation sources are unshuffled).
// on_batch(n): n more samples predicted on this rank (for progress reports).
Predictions predict_all(BatchSource& source, ViewMode views, int classes, const LogitsFunction& logits,
                        const std::function<void(std::int64_t)>& on_batch = {});
// How the stage's forward runs: eagerly, or recorded once for the first batch size seen and replayed for every
// batch of that size (core/model/inference_graph.hpp: a CUDA graph on GPUs; batches of another size, such as a last
// smaller one, and backends that cannot record run eagerly).
enum class ForwardMode : std::uint8_t { eager, recorded };
Predictions predict_all(Stage& model, BatchSource& source, ViewMode views,
                        const std::function<void(std::int64_t)>& on_batch = {},
                        ForwardMode forward = ForwardMode::eager);

// `empty` (a fresh accumulator with the problem's class tables) filled with the predictions against the labels
// (space groups 1..K by sample index) and summed over comm: every rank of comm gets the totals; ranks without
// predictions contribute nothing.
MetricsAccumulator evaluate_predictions(const Predictions& p, const std::vector<std::int16_t>& labels,
                                        MetricsAccumulator empty, MPI_Comm comm);

// Softmax of host f64 logits rows [N,K,1,1], in place.
void softmax_rows(Tensor& logits);

}  // namespace cbednet
