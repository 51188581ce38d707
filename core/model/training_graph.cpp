#include "core/model/training_graph.hpp"

#include "core/batch_split.hpp"
#include "core/error.hpp"
#include "core/model/model.hpp"

namespace cbednet {

std::string training_graph_refusal(Stage& model, const Optimizer& optimizer) {
  if (model.model().spec().dropout > 0)
    return "the model has dropout, whose masks depend on the step (a recording would repeat one step's masks)";
  if (optimizer.kind() != OptimizerKind::sgd)
    return "the optimizer is " + to_string(optimizer.kind()) + " (only SGD's update is recorded: the others depend " +
           "on the host's step counter or per-tensor trust ratios)";
  if (optimizer.clip_grad_norm() > 0) return "gradient-norm clipping reads the norm back to the host every step";
  return {};
}

TrainingGraph::TrainingGraph(Stage& model, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor& images,
                             const Tensor& labels, bool record)
    : model_(model),
      loss_(loss),
      optimizer_(optimizer),
      images_(images.view()),
      labels_(labels.view()),
      eager_reason_(record ? training_graph_refusal(model, optimizer) : "recording switched off") {
  CBEDNET_REQUIRE(model.is_first() && model.is_last(), InvalidArgument,
                  "training graph: the stage must hold the whole model");
  Backend& backend = model.backend();
  const std::int64_t batch = images.shape().n;
  CBEDNET_REQUIRE(batch > 0, InvalidArgument, "training graph: an empty batch has nothing to train on");
  CBEDNET_REQUIRE(images.device() == backend.device() && labels.device() == backend.device(), InvalidArgument,
                  "training graph: the images and labels must be on the backend's device (", backend.name(), ")");
  require_shape(labels, {batch, 1, 1, 1}, "labels");
  stats_ = backend.allocate({1, 2, 1, 1}, backend.param_dtype(), Layout::nchw);
}

TrainingGraph::~TrainingGraph() = default;

bool TrainingGraph::same_recording(const TrainStepOptions& a, const TrainStepOptions& b) {
  return a.micro_batch == b.micro_batch && a.lr == b.lr && a.bn_momentum == b.bn_momentum && a.seed == b.seed &&
         a.loss_scale == b.loss_scale;
}

void TrainingGraph::step(const TrainStepOptions& options) {
  Backend& backend = model_.backend();
  const BatchSplit split = split_batch(images_.shape().n, 1, options.micro_batch);
  model_.store().zero_grad();
  backend.fill(stats_, 0.0);
  for (std::int64_t m = 0; m < split.micro_batches; ++m) {
    const std::int64_t first = m * split.micro;
    const Tensor labels = labels_.slice_batch(first, split.micro);
    const PassInfo pass{Mode::train, options.seed, options.step, first};
    Stage::Context ctx;
    const Tensor logits = model_.forward(images_.slice_batch(first, split.micro), pass, &ctx);
    const auto out = loss_.forward(backend, logits, labels);
    Tensor dlogits = loss_.backward(backend, out, labels, split.global, options.loss_scale);
    backend.loss_statistics(out.probs, out.losses, labels, stats_);
    model_.backward(dlogits, ctx);
  }
  apply_update(model_, optimizer_, split.micro_batches, options);
}

void TrainingGraph::run(const TrainStepOptions& options) {
  replayed_ = false;
  if (work_ && !same_recording(options, recorded_options_)) {
    work_.reset();  // stale: its lr, loss scale or split are baked in; eager now, recorded again next time
    warmed_up_ = false;
  }
  if (work_) {
    work_->replay();
    // Optimizer::step counts on the host, which a replay does not run.
    optimizer_.set_steps_taken(optimizer_.steps_taken() + 1);
    replayed_ = true;
    ++replays_;
    return;
  }
  if (!eager_reason_.empty() || backend_cannot_record_ || !warmed_up_ || !same_recording(options, recorded_options_)) {
    step(options);
    recorded_options_ = options;
    warmed_up_ = true;
    return;
  }
  // Recording runs the step's host side once (Optimizer::step counts it) but none of its device work: the first
  // replay does that. A failed capture leaves no device work either: undo the count and run the step eagerly.
  Backend& backend = model_.backend();
  backend.synchronize();
  const std::int64_t steps_before = optimizer_.steps_taken();
  work_ = backend.capture([this, options] { step(options); });
  if (!work_) {
    optimizer_.set_steps_taken(steps_before);
    backend_cannot_record_ = true;
    step(options);
    return;
  }
  work_->replay();
  replayed_ = true;
  ++replays_;
}

StepStats TrainingGraph::stats() {
  Tensor host({1, 2, 1, 1}, DType::f64, Layout::nchw);
  model_.backend().copy(stats_, host);
  StepStats out;
  out.loss_sum = host.data<double>()[0];
  out.correct = static_cast<std::int64_t>(host.data<double>()[1]);
  out.samples = images_.shape().n;
  return out;
}

}  // namespace cbednet
