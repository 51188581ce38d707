#include "core/train/nonfinite_callback.hpp"

#include "core/train/trainer.hpp"

namespace cbednet {

void NonFiniteCallback::after_step(Trainer& trainer, StepReport& report) {
  if (!report.totals.nonfinite || report.overflow) return;
  // Every rank has the same totals, so every rank stops (or skips) alike; the layer named is this rank's first.
  const std::string layer = first_nonfinite_gradient(trainer.steps().stage().store());
  CBEDNET_REQUIRE(policy_ == NonFinitePolicy::skip, Error, "non-finite loss or gradients at global step ", report.step,
                  " (epoch ", report.epoch + 1, ", step ", trainer.state().step_in_epoch, ")",
                  layer.empty() ? "" : "; first non-finite gradient on this rank: " + layer,
                  "; the update was not applied (use --nonfinite skip to skip such steps)");
  log_.line("  step ", report.step, ": non-finite loss or gradients", layer.empty() ? "" : " (" + layer + ")",
            "; step skipped (--nonfinite skip)");
  ++skipped_;
}

void NonFiniteCallback::on_train_end(Trainer&) {
  if (skipped_ > 0) log_.line("skipped ", skipped_, " steps with non-finite loss or gradients");
}

}  // namespace cbednet
