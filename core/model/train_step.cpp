#include "core/model/train_step.hpp"

#include <algorithm>
#include <cmath>

#include "core/batch_split.hpp"

namespace cbednet {

Tensor upload(Backend& backend, const Tensor& host, bool overlap) {
  Tensor out = backend.allocate(host.shape());
  if (overlap)
    backend.upload_async(host, out);
  else
    backend.copy(host, out);
  return out;
}

Tensor upload_labels(Backend& backend, const Tensor& host_labels) {
  Tensor out = backend.allocate(host_labels.shape(), DType::i32, Layout::nchw);
  backend.copy(host_labels, out);
  return out;
}

Tensor download_f64(Backend& backend, const Tensor& device) {
  Tensor out(device.shape(), DType::f64, Layout::nchw);
  backend.copy(device, out);
  return out;
}

std::string first_nonfinite_gradient(ParamStore& store) {
  store.gather_compute_grads();
  for (auto& p : store.params()) {
    const Tensor host = download_f64(store.backend(), p.grad);
    for (const double g : host.span<double>())
      if (!std::isfinite(g)) return p.name;
  }
  return {};
}

bool has_nonfinite_gradient(ParamStore& store) {
  store.gather_compute_grads();
  return !store.backend().all_finite(store.grad());
}

std::vector<std::int64_t> argmax_rows(const Tensor& host) {
  const auto& s = host.shape();
  const double* v = host.data<double>();
  std::vector<std::int64_t> out(static_cast<std::size_t>(s.n));
  for (std::int64_t n = 0; n < s.n; ++n) {
    const double* row = v + n * s.c;
    out[static_cast<std::size_t>(n)] = std::max_element(row, row + s.c) - row;
  }
  return out;
}

Tensor loss_and_gradient(Backend& backend, SoftmaxCrossEntropy& loss, const Tensor& logits, const Tensor& host_labels,
                         std::int64_t global_batch, double loss_scale, StepStats& stats) {
  const Tensor y = upload_labels(backend, host_labels);
  const auto out = loss.forward(backend, logits, y);
  Tensor dlogits = loss.backward(backend, out, y, global_batch, loss_scale);
  const Tensor losses = download_f64(backend, out.losses);  // named: a range-for would not keep it alive
  for (const double l : losses.span<double>()) stats.loss_sum += l;
  const auto predicted = argmax_rows(download_f64(backend, out.probs));
  const std::int64_t n = host_labels.shape().n;
  const std::int32_t* truth = host_labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) stats.correct += predicted[static_cast<std::size_t>(i)] == truth[i] ? 1 : 0;
  stats.samples += n;
  return dlogits;
}

StepStats accumulate_gradients(Stage& model, SoftmaxCrossEntropy& loss, const Tensor& images, const Tensor& labels,
                               std::int64_t global_batch, std::int64_t first_sample, const TrainStepOptions& options) {
  CBEDNET_ASSERT(model.is_first() && model.is_last());
  const std::int64_t batch = images.shape().n;
  CBEDNET_REQUIRE(batch > 0, InvalidArgument, "an empty batch has nothing to train on");
  const BatchSplit split = split_batch(batch, 1, options.micro_batch);
  require_shape(labels, {batch, 1, 1, 1}, "labels");
  Backend& backend = model.backend();
  StepStats stats;
  for (std::int64_t m = 0; m < split.micro_batches; ++m) {
    const std::int64_t first = m * split.micro;
    const Tensor x = upload(backend, images.slice_batch(first, split.micro));
    const PassInfo pass{Mode::train, options.seed, options.step, first_sample + first};
    Stage::Context ctx;
    const Tensor logits = model.forward(x, pass, &ctx);
    model.backward(loss_and_gradient(backend, loss, logits, labels.slice_batch(first, split.micro), global_batch,
                                     options.loss_scale, stats),
                   ctx);
  }
  return stats;
}

void apply_update(Stage& model, Optimizer& optimizer, std::int64_t total_micro_batches, const TrainStepOptions& options,
                  const SquareSumTotal& square_sum_total) {
  model.store().update_running_statistics(options.bn_momentum, static_cast<double>(total_micro_batches));
  optimizer.step(model.store(), options.lr, 1.0 / options.loss_scale, square_sum_total);
}

StepStats train_step(Stage& model, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor& images,
                     const Tensor& labels, const TrainStepOptions& options) {
  const BatchSplit split = split_batch(images.shape().n, 1, options.micro_batch);
  model.store().zero_grad();
  const StepStats stats = accumulate_gradients(model, loss, images, labels, split.global, 0, options);
  apply_update(model, optimizer, split.micro_batches, options);
  return stats;
}

Tensor predict_logits(Stage& model, const Tensor& images, std::int64_t chunk) {
  const std::int64_t batch = images.shape().n;
  Tensor out({batch, model.model().classes(), 1, 1}, DType::f64);
  const PassInfo pass{Mode::eval, 0, 0, 0};
  for (std::int64_t first = 0; first < batch; first += chunk) {
    const std::int64_t n = std::min(chunk, batch - first);
    const Tensor logits = model.forward(upload(model.backend(), images.slice_batch(first, n)), pass, nullptr);
    const Tensor host = download_f64(model.backend(), logits);
    std::copy(host.data<double>(), host.data<double>() + host.count(), out.data<double>() + first * host.shape().c);
  }
  return out;
}

}  // namespace cbednet
