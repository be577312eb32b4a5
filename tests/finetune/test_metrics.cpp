// Metrics against values computed by hand (the arithmetic is in the comments).
#include <gtest/gtest.h>

#include <cmath>

#include "finetune/metrics.h"

namespace electra::finetune {
namespace {

TEST(Metrics, Accuracy) {
  EXPECT_DOUBLE_EQ(accuracy({1, 0, 1, 1}, {1, 0, 0, 1}), 0.75);
  EXPECT_DOUBLE_EQ(accuracy({}, {}), 0.0);
}

TEST(Metrics, F1OfThePositiveClass) {
  // tp = 2 (0, 3), fp = 1 (2), fn = 0: 2*2 / (2*2 + 1 + 0) = 0.8
  EXPECT_DOUBLE_EQ(f1_score({1, 0, 1, 1}, {1, 0, 0, 1}, 1), 0.8);
  // tp = 1, fp = 1, fn = 1: 2 / 4
  EXPECT_DOUBLE_EQ(f1_score({1, 1, 0}, {1, 0, 1}, 1), 0.5);
  // No positive predicted or true: 0, not NaN.
  EXPECT_DOUBLE_EQ(f1_score({0, 0}, {0, 0}, 1), 0.0);
}

TEST(Metrics, MatthewsBinary) {
  // TP 2, FP 1, TN 1, FN 1: (2*1 - 1*1) / sqrt(3 * 3 * 2 * 2) = 1/6
  EXPECT_NEAR(matthews_corr({1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}), 1.0 / 6.0, 1e-12);
  EXPECT_DOUBLE_EQ(matthews_corr({1, 0, 1, 0}, {1, 0, 1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(matthews_corr({0, 1, 0, 1}, {1, 0, 1, 0}), -1.0);
}

TEST(Metrics, MatthewsDegenerateIsZeroNotNaN) {
  // A constant prediction: the denominator is 0.
  const double m = matthews_corr({1, 1, 1, 1}, {1, 0, 1, 0});
  EXPECT_FALSE(std::isnan(m));
  EXPECT_DOUBLE_EQ(m, 0.0);
  EXPECT_DOUBLE_EQ(matthews_corr({0, 1, 0}, {1, 1, 1}), 0.0);  // constant truth
  EXPECT_DOUBLE_EQ(matthews_corr({}, {}), 0.0);
}

TEST(Metrics, MatthewsMultiClass) {
  // c = 2, s = 4; predicted counts {2, 1, 1}, true counts {1, 2, 1}:
  // sum p_k t_k = 2 + 2 + 1 = 5, sum p^2 = sum t^2 = 6: (2*4 - 5) / sqrt(10 * 10) = 0.3
  EXPECT_NEAR(matthews_corr({0, 1, 2, 0}, {0, 1, 1, 2}), 0.3, 1e-12);
}

TEST(Metrics, Pearson) {
  // dx = {-1.5, -.5, .5, 1.5}, dy = {-3, -1, 0, 4}: 11 / sqrt(5 * 26)
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {2, 4, 5, 9}), 11.0 / std::sqrt(130.0), 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
}

TEST(Metrics, PearsonOfAConstantIsZeroNotNaN) {
  const double p = pearson({2, 2, 2}, {1, 2, 3});
  EXPECT_FALSE(std::isnan(p));
  EXPECT_DOUBLE_EQ(p, 0.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3}, {5, 5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(pearson({1}, {1}), 0.0);
}

TEST(Metrics, AverageRanksForTies) {
  EXPECT_EQ(average_ranks({10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  EXPECT_EQ(average_ranks({7, 7, 7}), (std::vector<double>{2, 2, 2}));
}

TEST(Metrics, SpearmanWithTies) {
  // ranks x = {1, 2.5, 2.5, 4}, y = {1, 3, 2, 4}: 4.5 / sqrt(4.5 * 5)
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  // Monotone but not linear: Spearman 1, Pearson below 1.
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 4, 9, 100}), 1.0, 1e-12);
  EXPECT_LT(pearson({1, 2, 3, 4}, {1, 4, 9, 100}), 0.9);
}

TEST(Metrics, ComputeByName) {
  const MetricValues m = compute_metrics({"accuracy", "f1"}, {1, 0, 1, 1}, {1, 0, 0, 1}, {}, {}, 1);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, "accuracy");
  EXPECT_DOUBLE_EQ(metric_value(m, "f1"), 0.8);
  const MetricValues r = compute_metrics({"pearson", "spearman"}, {}, {}, {1, 2, 3}, {1, 2, 4}, -1);
  EXPECT_DOUBLE_EQ(metric_value(r, "spearman"), 1.0);
}

TEST(Metrics, Median) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({0.5}), 0.5);
}

}  // namespace
}  // namespace electra::finetune
