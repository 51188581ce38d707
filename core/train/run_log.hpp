// What a training run writes besides checkpoints: progress lines (stdout and train.log, rank 0 only) and one
// record per epoch in metrics.csv and metrics.jsonl.
#pragma once

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/metrics.hpp"

namespace cbednet {

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  std::int64_t global_step = 0;
  double train_loss = 0, train_top1 = 0, lr = 0, seconds = 0, images_per_s = 0;
  std::optional<ClassificationMetrics> validation;
};

class RunLog {
 public:
  RunLog(std::filesystem::path run_dir, bool writer) : dir_(std::move(run_dir)), writer_(writer) {}
  void open();  // train.log in append mode (only on the writer)

  template <typename... Parts>
  void line(Parts&&... parts) {
    if (!writer_) return;
    const std::string text = detail::concat(std::forward<Parts>(parts)...);
    std::cout << text << std::endl;
    if (file_) file_ << text << std::endl;
  }
  void epoch(const EpochRecord& record);
  // A resumed run rewrites the epochs from `epoch` (0-based) on: the metrics files keep only the records of the
  // epochs before it (only on the writer).
  void keep_epochs_before(std::int64_t epoch) const;

 private:
  std::filesystem::path dir_;
  bool writer_;
  std::ofstream file_;
};

// Writes `text` to a temporary file beside `path`, then renames it over `path`.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

// One JSON object with the metrics (shared by train's metrics.jsonl and evaluate's --out).
std::string metrics_json(const ClassificationMetrics& m);

}  // namespace cbednet
