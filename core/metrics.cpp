#include "core/metrics.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <tuple>

#include "core/error.hpp"

namespace cbednet {

MetricsAccumulator::MetricsAccumulator(int classes, std::vector<int> class_to_system,
                                       std::vector<int> class_to_point_group)
    : classes_(classes),
      system_(std::move(class_to_system)),
      point_group_(std::move(class_to_point_group)),
      confusion_(static_cast<std::size_t>(classes) * static_cast<std::size_t>(classes), 0) {
  CBEDNET_REQUIRE(classes > 0, InvalidArgument, "metrics: need at least one class");
  CBEDNET_REQUIRE(system_.empty() || static_cast<int>(system_.size()) == classes, InvalidArgument,
                  "metrics: crystal-system table has ", system_.size(), " entries for ", classes, " classes");
  CBEDNET_REQUIRE(point_group_.empty() || static_cast<int>(point_group_.size()) == classes, InvalidArgument,
                  "metrics: point-group table has ", point_group_.size(), " entries for ", classes, " classes");
}

void MetricsAccumulator::add(int truth, const std::vector<int>& ranked) {
  CBEDNET_REQUIRE(truth >= 0 && truth < classes_, InvalidArgument, "metrics: true class ", truth, " outside 0..",
                  classes_ - 1);
  CBEDNET_REQUIRE(!ranked.empty() && ranked[0] >= 0 && ranked[0] < classes_, InvalidArgument,
                  "metrics: no valid prediction");
  const int predicted = ranked[0];
  ++samples_;
  top1_ += predicted == truth ? 1 : 0;
  const auto five = std::min<std::size_t>(5, ranked.size());
  top5_ += std::find(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(five), truth) !=
                   ranked.begin() + static_cast<std::ptrdiff_t>(five)
               ? 1
               : 0;
  if (!system_.empty()) system_hits_ += system_[predicted] == system_[truth] ? 1 : 0;
  if (!point_group_.empty()) point_group_hits_ += point_group_[predicted] == point_group_[truth] ? 1 : 0;
  ++confusion_[static_cast<std::size_t>(truth) * classes_ + predicted];
}

void MetricsAccumulator::merge(const MetricsAccumulator& other) {
  CBEDNET_ASSERT(other.classes_ == classes_);
  auto mine = counters();
  const auto theirs = other.counters();
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];
  set_counters(mine);
}

std::int64_t MetricsAccumulator::confusion(int truth, int predicted) const {
  return confusion_[static_cast<std::size_t>(truth) * classes_ + predicted];
}

std::vector<std::int64_t> MetricsAccumulator::counters() const {
  std::vector<std::int64_t> c{samples_, top1_, top5_, system_hits_, point_group_hits_};
  c.insert(c.end(), confusion_.begin(), confusion_.end());
  return c;
}

void MetricsAccumulator::set_counters(const std::vector<std::int64_t>& c) {
  CBEDNET_ASSERT(c.size() == 5 + confusion_.size());
  samples_ = c[0];
  top1_ = c[1];
  top5_ = c[2];
  system_hits_ = c[3];
  point_group_hits_ = c[4];
  std::copy(c.begin() + 5, c.end(), confusion_.begin());
}

namespace {

// Macro-F1 and balanced accuracy from a confusion matrix (see the header for which classes count).
std::pair<double, double> f1_and_balanced(const std::vector<std::int64_t>& confusion, int k) {
  double f1_sum = 0, recall_sum = 0;
  int f1_classes = 0, recall_classes = 0;
  for (int c = 0; c < k; ++c) {
    std::int64_t tp = confusion[static_cast<std::size_t>(c) * k + c], actual = 0, predicted = 0;
    for (int j = 0; j < k; ++j) {
      actual += confusion[static_cast<std::size_t>(c) * k + j];
      predicted += confusion[static_cast<std::size_t>(j) * k + c];
    }
    if (actual > 0) {
      recall_sum += static_cast<double>(tp) / static_cast<double>(actual);
      ++recall_classes;
    }
    if (actual > 0 || predicted > 0) {
      f1_sum += 2.0 * static_cast<double>(tp) / static_cast<double>(actual + predicted);
      ++f1_classes;
    }
  }
  return {f1_classes ? f1_sum / f1_classes : 0.0, recall_classes ? recall_sum / recall_classes : 0.0};
}

}  // namespace

ClassificationMetrics MetricsAccumulator::compute() const {
  ClassificationMetrics m;
  m.samples = samples_;
  if (samples_ == 0) return m;
  const auto n = static_cast<double>(samples_);
  m.top1 = static_cast<double>(top1_) / n;
  m.top5 = static_cast<double>(top5_) / n;
  m.crystal_system_accuracy = system_.empty() ? 0.0 : static_cast<double>(system_hits_) / n;
  m.point_group_accuracy = point_group_.empty() ? 0.0 : static_cast<double>(point_group_hits_) / n;
  std::tie(m.macro_f1, m.balanced_accuracy) = f1_and_balanced(confusion_, classes_);

  // The majority baseline: every sample predicted as the most frequent true class (lowest index on ties).
  std::vector<std::int64_t> per_class(static_cast<std::size_t>(classes_), 0);
  for (int t = 0; t < classes_; ++t)
    for (int p = 0; p < classes_; ++p) per_class[t] += confusion_[static_cast<std::size_t>(t) * classes_ + p];
  m.majority_class = static_cast<int>(std::max_element(per_class.begin(), per_class.end()) - per_class.begin());
  std::vector<std::int64_t> baseline(confusion_.size(), 0);
  for (int t = 0; t < classes_; ++t) baseline[static_cast<std::size_t>(t) * classes_ + m.majority_class] = per_class[t];
  m.majority_top1 = static_cast<double>(per_class[m.majority_class]) / n;
  std::tie(m.majority_macro_f1, m.majority_balanced_accuracy) = f1_and_balanced(baseline, classes_);
  return m;
}

std::string MetricsAccumulator::confusion_csv(int label_offset) const {
  std::ostringstream out;
  out << "true\\predicted";
  for (int p = 0; p < classes_; ++p) out << ',' << p + label_offset;
  out << '\n';
  for (int t = 0; t < classes_; ++t) {
    out << t + label_offset;
    for (int p = 0; p < classes_; ++p) out << ',' << confusion_[static_cast<std::size_t>(t) * classes_ + p];
    out << '\n';
  }
  return out.str();
}

std::vector<int> top_k(const double* scores, int classes, int k) {
  std::vector<int> order(static_cast<std::size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  const int kk = std::min(k, classes);
  std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                    [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  order.resize(static_cast<std::size_t>(kk));
  return order;
}

}  // namespace cbednet
