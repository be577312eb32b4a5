// Token sampling: temperature, greedy, top-k, seeding, and that T = 1 draws follow softmax.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "pretrain/rtd.h"
#include "pretrain/sampling.h"

namespace electra::pretrain {
namespace {

// logits log(1), log(2), log(4): softmax = 1/7, 2/7, 4/7 (hand-computed).
at::Tensor three_logits() {
  return at::tensor({0.0f, std::log(2.0f), std::log(4.0f)}).unsqueeze(0);  // [1, 3]
}

at::Generator seeded(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

SamplingOptions opts(double t, bool greedy = false, int64_t top_k = 0) {
  SamplingOptions o;
  o.temperature = t;
  o.greedy = greedy;
  o.top_k = top_k;
  return o;
}

// Frequencies of n draws from `logits` ([1, vocab]) repeated n times.
std::vector<double> frequencies(const at::Tensor& logits, const SamplingOptions& o, int64_t n,
                                uint64_t seed) {
  at::Generator g = seeded(seed);
  at::Tensor s = sample_tokens(logits.repeat({n, 1}), o, g);  // [n]
  at::Tensor counts = at::bincount(s, {}, logits.size(1)).to(at::kDouble);
  std::vector<double> f(counts.data_ptr<double>(), counts.data_ptr<double>() + counts.numel());
  return f;
}

TEST(SamplingTest, TemperatureScalesTheLogits) {
  const at::Tensor p1 = sampling_probabilities(three_logits(), opts(1.0));
  EXPECT_TRUE(at::allclose(p1, at::tensor({1 / 7.0f, 2 / 7.0f, 4 / 7.0f}).unsqueeze(0)));
  // T = 2: softmax(l / 2) = (1, sqrt 2, 2) / (3 + sqrt 2).
  const float z = 3.0f + std::sqrt(2.0f);
  const at::Tensor p2 = sampling_probabilities(three_logits(), opts(2.0));
  EXPECT_TRUE(at::allclose(p2, at::tensor({1 / z, std::sqrt(2.0f) / z, 2 / z}).unsqueeze(0)));
  // T = 0.5: (1, 4, 16) / 21.
  const at::Tensor p05 = sampling_probabilities(three_logits(), opts(0.5));
  EXPECT_TRUE(at::allclose(p05, at::tensor({1 / 21.0f, 4 / 21.0f, 16 / 21.0f}).unsqueeze(0)));
}

TEST(SamplingTest, GreedyTakesTheArgmax) {
  const at::Tensor l = at::tensor({0.1f, 3.0f, -1.0f, 5.0f, 4.9f, 0.0f}).view({2, 3});  // [2, 3]
  for (uint64_t seed : {1u, 2u, 3u}) {
    at::Generator g = seeded(seed);
    const at::Tensor s = sample_tokens(l, opts(100.0, /*greedy=*/true), g);
    EXPECT_EQ(s[0].item<int64_t>(), 1);
    EXPECT_EQ(s[1].item<int64_t>(), 0);
  }
  EXPECT_TRUE(at::equal(sampling_probabilities(l, opts(1.0, true)),
                        at::tensor({0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f}).view({2, 3})));
}

TEST(SamplingTest, TopKKeepsOnlyTheBestTokens) {
  const at::Tensor p = sampling_probabilities(three_logits(), opts(1.0, false, 2));
  EXPECT_TRUE(at::allclose(p, at::tensor({0.0f, 1 / 3.0f, 2 / 3.0f}).unsqueeze(0)));
  const auto f = frequencies(three_logits(), opts(5.0, false, 2), 5000, 7);
  EXPECT_EQ(f[0], 0.0);  // never outside the top 2, even at a high temperature
  EXPECT_GT(f[1], 0.0);
  // top_k = 1 is greedy.
  const auto f1 = frequencies(three_logits(), opts(3.0, false, 1), 1000, 8);
  EXPECT_EQ(f1[2], 1000.0);
  // top_k = vocab changes nothing.
  EXPECT_TRUE(at::allclose(sampling_probabilities(three_logits(), opts(1.0, false, 3)),
                           sampling_probabilities(three_logits(), opts(1.0))));
}

TEST(SamplingTest, SameSeedSameTokens) {
  const at::Tensor l = at::randn({64, 50}, seeded(1));
  at::Generator a = seeded(42), b = seeded(42), c = seeded(43);
  const at::Tensor sa = sample_tokens(l, opts(1.0), a);
  EXPECT_TRUE(at::equal(sa, sample_tokens(l, opts(1.0), b)));
  EXPECT_FALSE(at::equal(sa, sample_tokens(l, opts(1.0), c)));
}

TEST(SamplingTest, SameTokensForAnyThreadCountAndLayout) {
  // Rows of a realistic width, split over threads: the draw depends on the seed only. A
  // transposed (non-contiguous) view of the same logits draws the same tokens.
  const at::Tensor l = at::randn({37, 3001}, seeded(5));
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::Generator a = seeded(77);
  const at::Tensor one = sample_tokens(l, opts(1.3), a);
  at::set_num_threads(2);
  at::Generator b = seeded(77), c = seeded(77);
  const at::Tensor two = sample_tokens(l, opts(1.3), b);
  const at::Tensor transposed = sample_tokens(l.t().contiguous().t(), opts(1.3), c);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, two));
  EXPECT_TRUE(at::equal(one, transposed));
  EXPECT_EQ(one.scalar_type(), at::kLong);
  EXPECT_GE(one.min().item<int64_t>(), 0);
  EXPECT_LT(one.max().item<int64_t>(), 3001);
}

TEST(SamplingTest, Bf16LogitsDrawWhatTheirFp32ValuesDraw) {
  // The kernel widens each bf16 row itself (exactly): the same tokens as the widened tensor, at
  // temperature 1 and at another, on rows of a realistic width split over two threads.
  const at::Tensor l16 = (at::randn({37, 3001}, seeded(8)) * 3).to(at::kBFloat16);
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  for (const double t : {1.0, 0.7}) {
    at::Generator a = seeded(21), b = seeded(21), c = seeded(22);
    const at::Tensor from16 = sample_tokens(l16, opts(t), a);
    EXPECT_TRUE(at::equal(from16, sample_tokens(l16.to(at::kFloat), opts(t), b))) << "T " << t;
    EXPECT_FALSE(at::equal(from16, sample_tokens(l16, opts(t), c))) << "T " << t;
  }
  at::set_num_threads(threads);
}

TEST(SamplingTest, LargeLogitGapsAreRespected) {
  // A token 40 nats above the rest always wins (its Gumbel competitors would need noise of
  // ~40, probability ~e^-40); at T = 100 the same gap is 0.4 and the others win often.
  at::Tensor l = at::zeros({2000, 50});
  l.select(1, 7).fill_(40.0f);
  at::Generator g = seeded(8);
  EXPECT_TRUE(sample_tokens(l, opts(1.0), g).eq(7).all().item<bool>());
  const double hot = sample_tokens(l, opts(100.0), g).eq(7).to(at::kDouble).mean().item<double>();
  // p(7) = e^0.4 / (e^0.4 + 49) = 0.0295: 2000 draws, 5 sigma = 0.019.
  EXPECT_NEAR(hot, 0.0295, 0.019);
}

TEST(SamplingTest, UnitTemperatureFollowsSoftmax) {
  // Chi-square goodness of fit of 70000 draws against (1/7, 2/7, 4/7); 2 degrees of freedom,
  // 13.82 is the p = 0.001 critical value. The seed is fixed, so the test is deterministic.
  const int64_t n = 70000;
  const double expected[] = {n / 7.0, 2 * n / 7.0, 4 * n / 7.0};
  const auto f = frequencies(three_logits(), opts(1.0), n, 2024);
  double chi2 = 0;
  for (int i = 0; i < 3; ++i)
    chi2 += (f[i] - expected[i]) * (f[i] - expected[i]) / expected[i];
  EXPECT_LT(chi2, 13.82) << f[0] << " " << f[1] << " " << f[2];
  // The same check fails for the distribution T = 2 would give: the test can tell them apart.
  const auto f2 = frequencies(three_logits(), opts(2.0), n, 2024);
  double chi2_wrong = 0;
  for (int i = 0; i < 3; ++i)
    chi2_wrong += (f2[i] - expected[i]) * (f2[i] - expected[i]) / expected[i];
  EXPECT_GT(chi2_wrong, 13.82);
}

TEST(SamplingTest, BadOptionsAreUserErrors) {
  const at::Tensor l = three_logits();
  at::Generator g = seeded(1);
  for (double t : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()})
    EXPECT_THROW(sample_tokens(l, opts(t), g), UserError) << t;
  EXPECT_THROW(sample_tokens(l, opts(1.0, false, -1), g), UserError);
  EXPECT_THROW(sample_tokens(l, opts(1.0, false, 4), g), UserError);
  try {
    check_sampling_options(opts(0.0), 3, "--temperature", "--top-k");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--temperature must be a finite number > 0"),
              std::string::npos);
  }
}

TEST(SamplingTest, RtdGumbelSampleIsTheSameDraw) {
  const at::Tensor l = at::randn({16, 30}, seeded(3));
  at::Generator a = seeded(9), b = seeded(9);
  EXPECT_TRUE(at::equal(gumbel_sample(l, 0.7, a), sample_tokens(l, opts(0.7), b)));
}

}  // namespace
}  // namespace electra::pretrain
