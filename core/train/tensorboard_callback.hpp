// TensorBoard scalars of a run (world rank 0 only: the app adds this callback there): per step, at the progress
// cadence, the step's train loss and top-1, the learning rate, the loss scale and images/s; per epoch, the epoch
// record (train loss, top-1, lr, images/s and, when present, the validation metrics). Steps are global steps.
// A resumed run appends a new event file (TensorBoard merges the files of a directory). It begins with a
// SessionLog START at the first step it runs: the steps it re-runs (after the checkpoint it resumed from) are
// written again with the same step numbers, and TensorBoard treats that as a restart, dropping the older points
// at and after that step.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/train/callback.hpp"
#include "core/train/event_file.hpp"

namespace cbednet {

class TensorBoardCallback : public TrainingCallback {
 public:
  // every: steps between per-step records, as --log-every (0: only each epoch's last step). Creates the event
  // file in `directory`; throws IoError naming the directory if it cannot.
  TensorBoardCallback(std::int64_t every, const std::filesystem::path& directory) : every_(every), writer_(directory) {}

  void on_train_begin(Trainer& trainer) override;
  void after_step(Trainer& trainer, StepReport& report) override;
  void on_epoch_end(Trainer& trainer, EpochRecord& record) override;
  void on_stop(Trainer&, StopReason) override { writer_.flush(); }
  void on_train_end(Trainer&) override { writer_.flush(); }

  const std::filesystem::path& event_file() const { return writer_.path(); }

 private:
  std::int64_t every_;
  EventFileWriter writer_;
};

}  // namespace cbednet
