#include "model/fast_exp.h"

#include <gtest/gtest.h>

#include <cmath>

namespace electra::model::detail {
namespace {

TEST(FastExp, WithinItsStatedErrorOverTheWholeRange) {
  // Every 1/1024 from -87 to 0: absolute error below 8e-8 and relative error below
  // 1.5e-7 + 7e-8 |y| (y / ln 2 is rounded once), compiled here without -ffast-math.
  double worst_abs = 0, worst_rel_excess = -1;
  for (int i = 0; i <= 87 * 1024; ++i) {
    const float y = -static_cast<float>(i) / 1024.0f;
    const double want = std::exp(static_cast<double>(y));
    const double err = std::fabs(exp_nonpositive(y) - want);
    worst_abs = std::max(worst_abs, err);
    worst_rel_excess = std::max(worst_rel_excess, err / want - (1.5e-7 + 7e-8 * -y));
  }
  EXPECT_LT(worst_abs, 8e-8);
  EXPECT_LT(worst_rel_excess, 0.0);
}

TEST(FastExp, ExactAtZeroAndZeroFarBelow) {
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);  // the max term of a softmax row is exactly 1
  EXPECT_EQ(exp_nonpositive(-88.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-3.0e38f), 0.0f);  // a masked score (finfo(float).min added)
  EXPECT_GT(exp_nonpositive(-87.0f), 0.0f);
  EXPECT_NEAR(exp_nonpositive(-87.0f) / std::exp(-87.0), 1.0, 1e-5);
}

}  // namespace
}  // namespace electra::model::detail
