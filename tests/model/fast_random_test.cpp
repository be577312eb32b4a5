// Dropout and uniform fills from model/fast_random.h: the right statistics, exact scaling,
// and the same values for the same seed whatever the thread count.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

#include "common/rng.h"
#include "model/fast_random.h"

namespace electra::model {
namespace {

TEST(FastRandomTest, DropoutKeepsOneMinusPScaled) {
  torch::manual_seed(3);
  at::Tensor x = at::full({1000, 1000}, 2.0);  // 1e6 elements: 15 chunks and a partial one
  at::Tensor y = model::dropout(x, 0.1, /*training=*/true);
  const double kept = y.ne(0).to(at::kDouble).mean().item<double>();
  // Binomial(1e6, 0.9): standard deviation 3e-4; 5 sigma.
  EXPECT_NEAR(kept, 0.9, 1.5e-3);
  // Every kept element is exactly x / (1 - p) in fp32.
  const float expect = static_cast<float>(2.0 * static_cast<float>(1.0 / 0.9));
  at::Tensor nz = y.masked_select(y.ne(0));
  EXPECT_EQ(nz.min().item<float>(), expect);
  EXPECT_EQ(nz.max().item<float>(), expect);
  // The mean is preserved in expectation.
  EXPECT_NEAR(y.mean().item<double>(), 2.0, 5e-3);
}

TEST(FastRandomTest, DropoutIsTheIdentityOutOfTrainingAndGradientFollowsTheMask) {
  at::Tensor x = at::randn({7, 5});
  EXPECT_TRUE(model::dropout(x, 0.5, /*training=*/false).equal(x));
  EXPECT_TRUE(model::dropout(x, 0.0, /*training=*/true).equal(x));
  EXPECT_TRUE(model::dropout(x, 1.0, /*training=*/true).eq(0).all().item<bool>());
  at::Tensor w = at::randn({7, 5}).requires_grad_(true);
  torch::manual_seed(5);
  at::Tensor y = model::dropout(w, 0.5, true);
  y.sum().backward();
  // d(sum y)/dw = mask: 0 where dropped, 2 where kept, matching the forward.
  EXPECT_TRUE(w.grad().eq(0).equal(y.detach().eq(0) & w.detach().ne(0)));
  EXPECT_TRUE(w.grad().masked_select(w.grad().ne(0)).eq(2.0).all().item<bool>());
}

TEST(FastRandomTest, DropoutEqualsTheTensorFormulaInFp32AndBf16) {
  // The one-pass CPU kernel (contiguous fp32 / bf16) and the tensor ops of any other layout
  // give the same values, forward and backward: x * scale in fp32, rounded once.
  const double scale = static_cast<float>(1.0 / 0.9);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (bool transposed : {false, true}) {
      at::Tensor base = (at::randn({300, 70}).abs() + 0.5).to(dt);
      at::Tensor x = (transposed ? base.t() : base).requires_grad_(true);
      torch::manual_seed(4);
      at::Tensor y = model::dropout(x, 0.1, /*training=*/true);
      const at::Tensor keep = y.detach().ne(0);
      const auto expect = [&](const at::Tensor& v) {
        return v.to(at::kFloat).mul(keep).mul_(scale).to(dt);
      };
      EXPECT_TRUE(y.detach().equal(expect(x.detach()))) << dt << transposed;
      const at::Tensor g = at::randn(y.sizes()).to(dt);
      y.backward(g);
      EXPECT_TRUE(x.grad().equal(expect(g))) << dt << transposed;
    }
  }
}

TEST(FastRandomTest, SameSeedSameMaskForAnyThreadCount) {
  const int threads = at::get_num_threads();
  at::Tensor x = at::ones({300000});
  at::set_num_threads(1);
  torch::manual_seed(11);
  at::Tensor a = model::dropout(x, 0.1, true);
  at::Generator g1 = at::detail::createCPUGenerator(9);
  at::Tensor u1 = at::empty({300001});
  fill_uniform_(u1, g1);
  at::set_num_threads(2);
  torch::manual_seed(11);
  at::Tensor b = model::dropout(x, 0.1, true);
  at::Generator g2 = at::detail::createCPUGenerator(9);
  at::Tensor u2 = at::empty({300001});
  fill_uniform_(u2, g2);
  at::set_num_threads(threads);
  EXPECT_TRUE(a.equal(b));
  EXPECT_TRUE(u1.equal(u2));
  // A different seed gives a different mask; consecutive calls advance the generator.
  torch::manual_seed(12);
  EXPECT_FALSE(model::dropout(x, 0.1, true).equal(a));
  EXPECT_FALSE(model::dropout(x, 0.1, true).equal(model::dropout(x, 0.1, true)));
}

// The mask by its definition, one element pair at a time: chunks of 2^16 elements, chunk c
// drawn from Rng(mix_seed({seed, c})), two 32-bit draws per 64-bit number (high half first),
// kept at or above p * 2^32.
at::Tensor scalar_keep_mask(int64_t n, double p, uint64_t seed) {
  constexpr int64_t kChunk = 1 << 16;
  at::Tensor keep = at::empty({n}, at::kBool);
  bool* k = keep.data_ptr<bool>();
  const auto threshold = static_cast<uint64_t>(p * 4294967296.0);
  for (int64_t c = 0; c * kChunk < n; ++c) {
    Rng rng(mix_seed({seed, static_cast<uint64_t>(c)}));
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; i += 2) {
      const uint64_t r = rng.next_u64();
      k[i] = (r >> 32) >= threshold;
      if (i + 1 < end) k[i + 1] = (r & 0xFFFFFFFFu) >= threshold;
    }
  }
  return keep;
}

TEST(FastRandomTest, KeepMaskIsTheChunkedStreamsBitForBit) {
  // Whole chunks run eight to a vector of lanes: 19 chunks and a partial one (groups of 8, 2
  // and a tail on two threads), 3 chunks (fewer lanes than the vector), and one short chunk.
  const int threads = at::get_num_threads();
  for (const int64_t n : {19 * 65536 + 1001, 3 * 65536, 4097}) {
    for (const int t : {1, 2}) {
      at::set_num_threads(t);
      torch::manual_seed(5);
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      const uint64_t seed = draw_seed(gen);
      torch::manual_seed(5);
      const at::Tensor mask = dropout_keep_mask({n}, 0.15);
      EXPECT_TRUE(mask.equal(scalar_keep_mask(n, 0.15, seed))) << n << " on " << t << " threads";
      EXPECT_NEAR(mask.to(at::kDouble).mean().item<double>(), 0.85, 0.02) << n;
    }
  }
  at::set_num_threads(threads);
}

TEST(FastRandomTest, UniformFillCoversTheUnitInterval) {
  at::Generator g = at::detail::createCPUGenerator(1);
  at::Tensor u = at::empty({1 << 20});
  fill_uniform_(u, g);
  EXPECT_GE(u.min().item<float>(), 0.0f);
  EXPECT_LT(u.max().item<float>(), 1.0f);
  // Uniform(0, 1): mean 1/2 (sd 2.8e-4 over 2^20 draws), variance 1/12, deciles even.
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 1.5e-3);
  EXPECT_NEAR(u.var().item<double>(), 1.0 / 12, 1e-3);
  at::Tensor hist = at::histc(u, 10, 0, 1) / static_cast<double>(u.numel());
  EXPECT_NEAR(hist.min().item<double>(), 0.1, 2e-3);
  EXPECT_NEAR(hist.max().item<double>(), 0.1, 2e-3);
}

}  // namespace
}  // namespace electra::model
