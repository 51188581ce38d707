// Classification metrics for a heavily imbalanced problem (230 space groups, a few classes hold most samples).
//
//   top-1, top-5           fraction of samples whose class is the best / among the five best predictions
//   macro-F1               mean F1 over the classes that occur in the truth or the predictions (scikit-learn's
//                          f1_score(average="macro") without an explicit label list)
//   balanced accuracy      mean recall over the classes that occur in the truth (scikit-learn)
//   coarse accuracies      the prediction maps to the true crystal system / point group (tables given by caller)
//   majority baseline      the same metrics for always predicting the most frequent true class of the split
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cbednet {

struct ClassificationMetrics {
  std::int64_t samples = 0;
  double top1 = 0, top5 = 0, macro_f1 = 0, balanced_accuracy = 0;
  double crystal_system_accuracy = 0, point_group_accuracy = 0;
  // Always predicting the split's most frequent class:
  int majority_class = -1;
  double majority_top1 = 0, majority_macro_f1 = 0, majority_balanced_accuracy = 0;
};

class MetricsAccumulator {
 public:
  // class_to_system / class_to_point_group: coarse label of each class (empty: those accuracies are not computed).
  MetricsAccumulator(int classes, std::vector<int> class_to_system = {}, std::vector<int> class_to_point_group = {});

  // One sample: its true class and its classes ranked best first (at least one).
  void add(int truth, const std::vector<int>& ranked);
  // Adds another accumulator's counts (e.g. from other ranks).
  void merge(const MetricsAccumulator& other);

  ClassificationMetrics compute() const;
  // confusion[t][p]: samples of true class t predicted as p.
  const std::vector<std::int64_t>& confusion() const { return confusion_; }
  std::int64_t confusion(int truth, int predicted) const;
  // CSV with a header row "true\predicted,<label 1>,...,<label K>" and one row per class (labels: offset + index).
  std::string confusion_csv(int label_offset = 1) const;
  int classes() const { return classes_; }
  // Raw counters, for reducing across ranks: [samples, top1, top5, system, point group, confusion...].
  std::vector<std::int64_t> counters() const;
  void set_counters(const std::vector<std::int64_t>& counters);

 private:
  int classes_;
  std::vector<int> system_, point_group_;
  std::int64_t samples_ = 0, top1_ = 0, top5_ = 0, system_hits_ = 0, point_group_hits_ = 0;
  std::vector<std::int64_t> confusion_;  // classes x classes
};

// Indices of the k largest values, best first (ties: lower index first).
std::vector<int> top_k(const double* scores, int classes, int k);

}  // namespace cbednet
