#include "core/train/loss_scale_callback.hpp"

#include <string>

#include "core/train/trainer.hpp"

namespace cbednet {

LossScaleCallback::LossScaleCallback(LossScaling mode, LossScalerOptions options, bool resumed, RunLog& log)
    : mode_(mode), options_(options), resumed_(resumed), log_(log) {}

void LossScaleCallback::record(Trainer& trainer) const {
  TrainingState& state = trainer.state();
  state.loss_scale = scaler_ ? scaler_->scale() : mode_ == LossScaling::fixed ? options_.initial : 1.0;
  state.loss_scale_good_steps = scaler_ ? scaler_->good_steps() : 0;
}

void LossScaleCallback::on_train_begin(Trainer& trainer) {
  if (mode_ == LossScaling::dynamic) {
    scaler_.emplace(options_);
    if (resumed_) scaler_->restore(trainer.state().loss_scale, trainer.state().loss_scale_good_steps);
  }
  record(trainer);
  if (mode_ != LossScaling::none)
    log_.line("  loss scaling: ", mode_ == LossScaling::dynamic ? "dynamic" : "fixed", ", scale ",
              trainer.state().loss_scale,
              mode_ == LossScaling::dynamic
                  ? ", doubling after " + std::to_string(options_.interval) + " finite steps, halving on overflow"
                  : std::string());
}

void LossScaleCallback::after_step(Trainer& trainer, StepReport& report) {
  report.overflow = scaler_ && scaler_->update(report.totals.nonfinite) && report.totals.nonfinite;
  if (report.overflow) {
    log_.line("  step ", report.step, ": gradients overflowed at loss scale ", report.loss_scale,
              "; step skipped, scale now ", scaler_->scale());
    ++overflow_steps_;
  }
  record(trainer);
}

void LossScaleCallback::on_train_end(Trainer& trainer) {
  if (overflow_steps_ > 0)
    log_.line("dynamic loss scaling: ", overflow_steps_, " steps overflowed and were skipped; final scale ",
              trainer.state().loss_scale);
}

}  // namespace cbednet
