#include "core/train/run_log.hpp"

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "core/json.hpp"

namespace cbednet {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw_error<IoError>("cannot write ", path.string(), " (disk full or no permission?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw_error<IoError>("cannot rename ", tmp.string(), " to ", path.string(), ": ", ec.message());
  }
}

namespace {

// Keeps the lines of a metrics file whose epoch (first field) is below `epoch` (a resumed run rewrites the rest).
void truncate_metrics(const fs::path& path, std::int64_t epoch, bool csv) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::ostringstream kept;
  std::string line;
  bool header = csv;
  while (std::getline(in, line)) {
    if (header) {
      kept << line << '\n';
      header = false;
      continue;
    }
    const auto digits = line.find_first_of("0123456789");
    if (digits != std::string::npos && std::stoll(line.substr(digits)) < epoch + 1) kept << line << '\n';
  }
  write_file_atomically(path, kept.str());
}

}  // namespace

void RunLog::keep_epochs_before(std::int64_t epoch) const {
  if (!writer_) return;
  truncate_metrics(dir_ / "metrics.csv", epoch, true);
  truncate_metrics(dir_ / "metrics.jsonl", epoch, false);
}

void RunLog::open() {
  if (!writer_) return;
  file_.open(dir_ / "train.log", std::ios::app);
  if (!file_) throw_error<IoError>("cannot open ", (dir_ / "train.log").string(), " for writing");
}

std::string metrics_json(const ClassificationMetrics& m) {
  std::ostringstream out;
  out << "{\"samples\": " << m.samples << ", \"top1\": " << json_number(m.top1) << ", \"top5\": " << json_number(m.top5)
      << ", \"macro_f1\": " << json_number(m.macro_f1)
      << ", \"balanced_accuracy\": " << json_number(m.balanced_accuracy)
      << ", \"crystal_system_accuracy\": " << json_number(m.crystal_system_accuracy)
      << ", \"point_group_accuracy\": " << json_number(m.point_group_accuracy)
      << ", \"majority_baseline\": {\"space_group\": " << m.majority_class + 1
      << ", \"top1\": " << json_number(m.majority_top1) << ", \"macro_f1\": " << json_number(m.majority_macro_f1)
      << ", \"balanced_accuracy\": " << json_number(m.majority_balanced_accuracy) << "}}";
  return out.str();
}

void RunLog::epoch(const EpochRecord& r) {
  if (!writer_) return;
  char text[512];
  std::snprintf(text, sizeof text, "epoch %lld done in %.1f s (%.1f img/s): train loss %.4f, train top-1 %.3f",
                static_cast<long long>(r.epoch), r.seconds, r.images_per_s, r.train_loss, r.train_top1);
  std::string message = text;
  if (r.validation) {
    const auto& v = *r.validation;
    std::snprintf(text, sizeof text,
                  "; validation top-1 %.3f, top-5 %.3f, macro-F1 %.3f, balanced %.3f, crystal system %.3f "
                  "(majority baseline top-1 %.3f)",
                  v.top1, v.top5, v.macro_f1, v.balanced_accuracy, v.crystal_system_accuracy, v.majority_top1);
    message += text;
  }
  line(message);

  const fs::path csv = dir_ / "metrics.csv";
  const bool new_csv = !fs::exists(csv);
  std::ofstream out(csv, std::ios::app);
  if (new_csv)
    out << "epoch,global_step,train_loss,train_top1,lr,seconds,images_per_s,val_samples,val_top1,val_top5,"
           "val_macro_f1,val_balanced_accuracy,val_crystal_system_accuracy,val_point_group_accuracy,"
           "val_majority_top1\n";
  out.precision(8);
  out << r.epoch << ',' << r.global_step << ',' << r.train_loss << ',' << r.train_top1 << ',' << r.lr << ','
      << r.seconds << ',' << r.images_per_s;
  if (r.validation) {
    const auto& v = *r.validation;
    out << ',' << v.samples << ',' << v.top1 << ',' << v.top5 << ',' << v.macro_f1 << ',' << v.balanced_accuracy << ','
        << v.crystal_system_accuracy << ',' << v.point_group_accuracy << ',' << v.majority_top1 << '\n';
  } else {
    out << ",,,,,,,,\n";
  }
  std::ofstream jsonl(dir_ / "metrics.jsonl", std::ios::app);
  // A diverged run (--nonfinite skip) has a NaN loss: null keeps the file valid JSON.
  jsonl << "{\"epoch\": " << r.epoch << ", \"global_step\": " << r.global_step
        << ", \"train_loss\": " << json_number(r.train_loss, 8) << ", \"train_top1\": " << json_number(r.train_top1, 8)
        << ", \"lr\": " << json_number(r.lr, 8) << ", \"seconds\": " << json_number(r.seconds, 8)
        << ", \"images_per_s\": " << json_number(r.images_per_s, 8);
  if (r.validation) jsonl << ", \"validation\": " << metrics_json(*r.validation);
  jsonl << "}\n";
  if (!out || !jsonl) throw_error<IoError>("cannot append to the metrics files in ", dir_.string());
}

}  // namespace cbednet
