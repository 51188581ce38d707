#include "core/train/progress_callback.hpp"

#include <cstdio>

#include "core/progress.hpp"
#include "core/train/trainer.hpp"

namespace cbednet {

void ProgressCallback::after_step(Trainer& trainer, StepReport& report) {
  const TrainingState& state = trainer.state();
  const std::int64_t per_epoch = trainer.config().steps_per_epoch;
  if (every_ <= 0 || (state.step_in_epoch % every_ != 0 && state.step_in_epoch != per_epoch)) return;
  const double per_step = trainer.seconds_per_step();
  const std::int64_t remaining = trainer.config().epochs * per_epoch - state.global_step;
  const double n = static_cast<double>(report.totals.samples);
  char text[256];
  std::snprintf(text, sizeof text,
                "epoch %lld/%lld step %lld/%lld | %.1f img/s | loss %.4f | top-1 %.3f | lr %.5f | ETA %s",
                static_cast<long long>(report.epoch + 1), static_cast<long long>(trainer.config().epochs),
                static_cast<long long>(state.step_in_epoch), static_cast<long long>(per_epoch),
                static_cast<double>(trainer.split().global) / per_step, report.totals.loss_sum / n,
                static_cast<double>(report.totals.correct) / n, report.lr,
                format_duration(per_step * static_cast<double>(remaining)).c_str());
  log_.line(text);
}

void ProgressCallback::on_epoch_end(Trainer&, EpochRecord& record) { log_.epoch(record); }

}  // namespace cbednet
