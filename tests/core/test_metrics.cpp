// Metrics against hand-computed values.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/metrics.hpp"

using namespace cbednet;

// 3 classes. Truth/prediction pairs: (0,0) (0,0) (0,1) (1,1) (2,0) (2,2)
//   class 0: tp 2, actual 3, predicted 3 -> F1 = 4/6, recall 2/3
//   class 1: tp 1, actual 1, predicted 2 -> F1 = 2/3, recall 1
//   class 2: tp 1, actual 2, predicted 1 -> F1 = 2/3, recall 1/2
// macro-F1 = 2/3; balanced accuracy = (2/3 + 1 + 1/2) / 3 = 13/18; top-1 = 4/6.
TEST(Metrics, HandComputedExample) {
  MetricsAccumulator acc(3, {0, 0, 1}, {0, 1, 2});
  const int pairs[][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 2}};
  for (const auto& p : pairs) {
    std::vector<int> ranked{p[1]};
    for (int c = 0; c < 3; ++c)
      if (c != p[1]) ranked.push_back(c);
    acc.add(p[0], ranked);
  }
  const auto m = acc.compute();
  EXPECT_EQ(m.samples, 6);
  EXPECT_DOUBLE_EQ(m.top1, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.top5, 1.0);
  EXPECT_NEAR(m.macro_f1, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(m.balanced_accuracy, 13.0 / 18.0, 1e-15);
  // Crystal systems {0,0,1}: (0,1) counts as a system hit, (2,0) does not -> 5/6. Point groups = classes -> 4/6.
  EXPECT_DOUBLE_EQ(m.crystal_system_accuracy, 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.point_group_accuracy, 4.0 / 6.0);
  // Majority class 0 (3 samples): top-1 1/2; F1 only class 0 present in truth or prediction with F1 = 2*3/(3+6);
  // classes 1 and 2 occur in the truth with F1 0 -> macro-F1 = (2/3) / 3; balanced = 1/3.
  EXPECT_EQ(m.majority_class, 0);
  EXPECT_DOUBLE_EQ(m.majority_top1, 0.5);
  EXPECT_NEAR(m.majority_macro_f1, (6.0 / 9.0) / 3.0, 1e-15);
  EXPECT_NEAR(m.majority_balanced_accuracy, 1.0 / 3.0, 1e-15);
  EXPECT_EQ(acc.confusion(2, 0), 1);
  EXPECT_EQ(acc.confusion_csv(), "true\\predicted,1,2,3\n1,2,1,0\n2,0,1,0\n3,1,0,1\n");
}

TEST(Metrics, TopFiveAndMerge) {
  MetricsAccumulator a(10), b(10);
  a.add(7, {1, 2, 3, 4, 7, 8});  // in the top five, not top-1
  b.add(8, {1, 2, 3, 4, 7, 8});  // sixth: not in the top five
  a.merge(b);
  const auto m = a.compute();
  EXPECT_EQ(m.samples, 2);
  EXPECT_DOUBLE_EQ(m.top1, 0.0);
  EXPECT_DOUBLE_EQ(m.top5, 0.5);
}

TEST(Metrics, TopKOrdersBestFirst) {
  const double scores[] = {0.1, 0.5, 0.5, -1.0, 2.0};
  EXPECT_EQ(top_k(scores, 5, 3), (std::vector<int>{4, 1, 2}));
  EXPECT_THROW(MetricsAccumulator(3).add(3, {0}), InvalidArgument);
}
