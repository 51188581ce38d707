#include "core/train/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/model/inference_graph.hpp"
#include "core/model/train_step.hpp"
#include "core/parallel/data_parallel.hpp"

namespace cbednet {

void softmax_rows(Tensor& logits) {
  const auto& s = logits.shape();
  double* v = logits.data<double>();
  for (std::int64_t n = 0; n < s.n; ++n) {
    double* row = v + n * s.c;
    const double top = *std::max_element(row, row + s.c);
    double sum = 0;
    for (std::int64_t k = 0; k < s.c; ++k) sum += row[k] = std::exp(row[k] - top);
    for (std::int64_t k = 0; k < s.c; ++k) row[k] /= sum;
  }
}

Predictions predict_all(Stage& model, BatchSource& source, ViewMode views,
                        const std::function<void(std::int64_t)>& on_batch, ForwardMode forward) {
  std::unique_ptr<InferenceGraph> graph;  // recorded for the first batch size seen
  const auto logits = [&](const Tensor& images) {
    const std::int64_t n = images.shape().n;
    if (forward == ForwardMode::eager || (graph && graph->input().shape().n != n)) return predict_logits(model, images);
    if (!graph) graph = std::make_unique<InferenceGraph>(model, n);
    model.backend().copy(images, graph->input());
    return download_f64(model.backend(), graph->run());
  };
  return predict_all(source, views, static_cast<int>(model.model().classes()), logits, on_batch);
}

Predictions predict_all(BatchSource& source, ViewMode views, int classes, const LogitsFunction& logits_of,
                        const std::function<void(std::int64_t)>& on_batch) {
  Predictions p;
  p.classes = classes;
  source.start_epoch(0);
  while (auto batch = source.next()) {
    const std::int64_t b = batch->images.shape().n;
    if (b == 0) continue;
    Tensor probs({b, p.classes, 1, 1}, DType::f64);
    if (views == ViewMode::stack) {
      probs = logits_of(batch->images);
      softmax_rows(probs);
    } else {
      for (int v = 0; v < batch->images.shape().c; ++v) {
        Tensor view_probs = logits_of(select_view(batch->images, v));
        softmax_rows(view_probs);
        const double w = 1.0 / static_cast<double>(batch->images.shape().c);
        for (std::int64_t i = 0; i < probs.count(); ++i) probs.data<double>()[i] += w * view_probs.data<double>()[i];
      }
    }
    p.indices.insert(p.indices.end(), batch->indices.begin(), batch->indices.end());
    p.probs.insert(p.probs.end(), probs.data<double>(), probs.data<double>() + probs.count());
    if (on_batch) on_batch(b);
  }
  return p;
}

MetricsAccumulator evaluate_predictions(const Predictions& p, const std::vector<std::int16_t>& labels,
                                        MetricsAccumulator empty, MPI_Comm comm) {
  MetricsAccumulator acc = std::move(empty);
  const int classes = acc.classes();
  for (std::size_t i = 0; i < p.indices.size(); ++i) {
    const int truth = labels[static_cast<std::size_t>(p.indices[i])] - 1;
    CBEDNET_REQUIRE(truth >= 0 && truth < classes, InvalidArgument, "sample ", p.indices[i], " has space group ",
                    truth + 1, ", outside the model's ", classes, " classes");
    acc.add(truth, top_k(p.probs.data() + i * static_cast<std::size_t>(p.classes), p.classes, 5));
  }
  auto counters = acc.counters();
  allreduce_sum(counters, comm);
  acc.set_counters(counters);
  return acc;
}

}  // namespace cbednet
