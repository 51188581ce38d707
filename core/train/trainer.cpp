#include "core/train/trainer.hpp"

#include <cstring>

#include "core/stopwatch.hpp"

namespace cbednet {

std::int64_t fill_short_share(Batch& batch, std::int64_t share) {
  const Shape s = batch.images.shape();
  const std::int64_t kept = s.n;
  if (kept >= share) return 0;
  CBEDNET_REQUIRE(kept > 0, Error, "--skip-bad: every sample of this rank's share of step ", batch.step + 1, " (epoch ",
                  batch.epoch + 1, ") was bad; nothing to train on");
  Tensor images({share, s.c, s.h, s.w}, batch.images.dtype());
  Tensor labels({share, 1, 1, 1}, DType::i32);
  const std::size_t sample_bytes = static_cast<std::size_t>(s.c * s.h * s.w) * dtype_size(images.dtype());
  const auto* src = static_cast<const std::byte*>(batch.images.raw());
  auto* dst = static_cast<std::byte*>(images.raw());
  std::vector<std::int64_t> indices(static_cast<std::size_t>(share));
  for (std::int64_t i = 0; i < share; ++i) {
    const std::int64_t from = i % kept;
    std::memcpy(dst + static_cast<std::size_t>(i) * sample_bytes, src + static_cast<std::size_t>(from) * sample_bytes,
                sample_bytes);
    labels.data<std::int32_t>()[i] = batch.labels.data<std::int32_t>()[from];
    indices[static_cast<std::size_t>(i)] = batch.indices[static_cast<std::size_t>(from)];
  }
  batch.images = std::move(images);
  batch.labels = std::move(labels);
  batch.indices = std::move(indices);
  return share - kept;
}

Trainer::Trainer(HybridTrainer& steps, SoftmaxCrossEntropy& loss, Optimizer& optimizer, BatchSource* source,
                 BatchSplit split, TrainerConfig config, TrainingState state)
    : steps_(steps),
      loss_(loss),
      optimizer_(optimizer),
      source_(source),
      split_(split),
      config_(std::move(config)),
      state_(state) {
  CBEDNET_REQUIRE((source_ != nullptr) == steps_.reads_data(), InvalidArgument,
                  "the trainer needs a batch source exactly on the ranks of pipeline stage 0");
  CBEDNET_REQUIRE(split_.replicas == steps_.grid().replicas(), InvalidArgument, "the batch split's ", split_.replicas,
                  " replicas do not match --grid ", steps_.grid().stages(), "x", steps_.grid().replicas());
  CBEDNET_REQUIRE(config_.steps_per_epoch >= 1, InvalidArgument, "an epoch needs at least one step");
}

double Trainer::seconds_per_step() const {
  return steps_this_run_ > 0 ? seconds_since(run_start_) / static_cast<double>(steps_this_run_) : 0.0;
}

StopReason Trainer::run() {
  run_start_ = SteadyClock::now();
  for (TrainingCallback* c : callbacks_) c->on_train_begin(*this);
  for (std::int64_t epoch = state_.epoch; epoch < config_.epochs; ++epoch) {
    const auto epoch_start = SteadyClock::now();
    if (source_ != nullptr) {
      source_->start_epoch(static_cast<std::uint64_t>(epoch));
      for (std::int64_t skip = 0; skip < state_.step_in_epoch; ++skip) source_->next();  // resume inside an epoch
    }
    epoch_images_ = 0;
    while (state_.step_in_epoch < config_.steps_per_epoch) {
      take_step(epoch);
      if (config_.max_steps > 0 && state_.global_step >= config_.max_steps) stop_ = StopReason::max_steps;
      if (stop_) {
        for (TrainingCallback* c : callbacks_) c->on_stop(*this, *stop_);
        return *stop_;
      }
    }
    if (source_ != nullptr) source_->next();  // the end of the epoch (drop_last): lets the loader finish it
    end_epoch(epoch, seconds_since(epoch_start));
  }
  for (TrainingCallback* c : callbacks_) c->on_train_end(*this);
  return StopReason::finished;
}

void Trainer::take_step(std::int64_t epoch) {
  std::optional<Batch> batch;
  Tensor images;
  if (source_ != nullptr) {
    batch = source_->next();
    CBEDNET_REQUIRE(batch.has_value(), Error, "the loader ended epoch ", epoch + 1, " after ", state_.step_in_epoch,
                    " of ", config_.steps_per_epoch, " steps");
    repeated_ += fill_short_share(*batch, split_.share);
    images = config_.views == ViewMode::random ? random_views(*batch, config_.seed, static_cast<std::uint64_t>(epoch))
                                               : batch->images.view();
  }
  const double lr = config_.schedule.lr(state_.global_step);
  const TrainStepOptions options{
      split_.micro,     lr, config_.bn_momentum, config_.seed, static_cast<std::uint64_t>(state_.global_step),
      state_.loss_scale};
  StepReport report;
  report.totals = steps_.step(loss_, optimizer_, batch ? &images : nullptr, batch ? &batch->labels : nullptr,
                              split_.global, options);
  report.epoch = epoch;
  report.step = state_.global_step + 1;
  report.lr = lr;
  report.loss_scale = state_.loss_scale;
  state_.epoch_loss_sum += report.totals.loss_sum;
  state_.epoch_correct += report.totals.correct;
  state_.epoch_samples += report.totals.samples;
  epoch_images_ += report.totals.samples;
  ++state_.global_step;
  ++state_.step_in_epoch;
  state_.optimizer_steps = optimizer_.steps_taken();
  ++steps_this_run_;
  for (TrainingCallback* c : callbacks_) c->after_step(*this, report);
}

void Trainer::end_epoch(std::int64_t epoch, double seconds) {
  const auto samples = static_cast<double>(state_.epoch_samples);
  EpochRecord record{epoch + 1,
                     state_.global_step,
                     state_.epoch_loss_sum / samples,
                     static_cast<double>(state_.epoch_correct) / samples,
                     config_.schedule.lr(state_.global_step - 1),
                     seconds,
                     static_cast<double>(epoch_images_) / seconds,
                     {}};
  state_.epoch = epoch + 1;
  state_.step_in_epoch = 0;
  state_.epoch_loss_sum = 0;
  state_.epoch_correct = 0;
  state_.epoch_samples = 0;
  for (TrainingCallback* c : callbacks_) c->on_epoch_end(*this, record);
}

}  // namespace cbednet
