#include "core/train/tensorboard_callback.hpp"

#include "core/train/trainer.hpp"

namespace cbednet {

void TensorBoardCallback::on_train_begin(Trainer& trainer) {
  writer_.write_session_start(trainer.state().global_step + 1);  // the first step this run takes
  writer_.flush();
}

void TensorBoardCallback::after_step(Trainer& trainer, StepReport& report) {
  const std::int64_t step_in_epoch = trainer.state().step_in_epoch;
  const bool epoch_end = step_in_epoch == trainer.config().steps_per_epoch;
  if (!epoch_end && (every_ <= 0 || step_in_epoch % every_ != 0)) return;
  // The same quantities as ProgressCallback's line, so the two agree.
  const double samples = static_cast<double>(report.totals.samples);
  const double images_per_s = static_cast<double>(trainer.split().global) / trainer.seconds_per_step();
  writer_.write_scalars(report.step,
                        {{"train/loss", static_cast<float>(report.totals.loss_sum / samples)},
                         {"train/top1", static_cast<float>(static_cast<double>(report.totals.correct) / samples)},
                         {"lr", static_cast<float>(report.lr)},
                         {"loss_scale", static_cast<float>(report.loss_scale)},
                         {"throughput/images_per_s", static_cast<float>(images_per_s)}});
}

void TensorBoardCallback::on_epoch_end(Trainer&, EpochRecord& record) {
  std::vector<ScalarValue> values{{"epoch/train_loss", static_cast<float>(record.train_loss)},
                                  {"epoch/train_top1", static_cast<float>(record.train_top1)},
                                  {"epoch/lr", static_cast<float>(record.lr)},
                                  {"epoch/images_per_s", static_cast<float>(record.images_per_s)}};
  if (record.validation) {
    const ClassificationMetrics& v = *record.validation;
    for (const auto& [tag, value] : {std::pair{"epoch/val_top1", v.top1},
                                     {"epoch/val_top5", v.top5},
                                     {"epoch/val_macro_f1", v.macro_f1},
                                     {"epoch/val_balanced_accuracy", v.balanced_accuracy},
                                     {"epoch/val_crystal_system_accuracy", v.crystal_system_accuracy}})
      values.push_back({tag, static_cast<float>(value)});
  }
  writer_.write_scalars(record.global_step, values);
  writer_.flush();  // TensorBoard sees each epoch as it ends
}

}  // namespace cbednet
