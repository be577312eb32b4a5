// bf16_linear and the feed-forward node's fp32 master parameters against the eager form,
// at::linear(x, w.to(bf16), b.to(bf16)): the same values and input gradient bit for bit, and
// parameter gradients that are fp32 sums of the same bf16 products (not rounded to bf16).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "common/blas.h"
#include "model/bf16_linear.h"
#include "model/feed_forward.h"
#include "model/onednn_linear.h"

namespace electra::model {
namespace {

bool equal_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b);
}

// gy^T x in fp64 from the bf16 values: what an fp32 accumulation approximates to ~1e-6.
at::Tensor exact_weight_grad(const at::Tensor& gy, const at::Tensor& x) {
  return gy.reshape({-1, gy.size(-1)})
      .to(at::kDouble)
      .t()
      .mm(x.reshape({-1, x.size(-1)}).to(at::kDouble));
}

// max |a - b| relative to max |b|.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         b.abs().max().item<double>();
}

class Bf16LinearTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!blas::have_gemm_bf16()) GTEST_SKIP() << "no oneDNN bf16 GEMM in this process";
  }
};

TEST_F(Bf16LinearTest, MatchesTheEagerCastInValuesAndTheInputGradient) {
  torch::manual_seed(3);
  for (const bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    // 150 rows of 40 -> 24: odd sizes, and a 3-D input.
    const at::Tensor x0 = at::randn({3, 50, 40}).to(at::kBFloat16);
    const at::Tensor w0 = at::randn({24, 40}) * 0.3, b0 = at::randn({24});
    const at::Tensor gy = at::randn({3, 50, 24}).to(at::kBFloat16);
    auto leaf = [](const at::Tensor& t) { return t.clone().requires_grad_(true); };
    const at::Tensor x = leaf(x0), w = leaf(w0), b = leaf(b0);
    const at::Tensor ex = leaf(x0), ew = leaf(w0), eb = leaf(b0);

    ASSERT_TRUE(bf16_linear_supports(x, w));
    const size_t primitives = onednn_linear_primitives();
    const at::Tensor y = bf16_linear(x, w, with_bias ? b : at::Tensor());
    // Where the build has oneDNN, forward runs on its matmul primitive (the bias inside the
    // product), and still gives the eager bits: one rounding of the fp32 sum plus the bf16 bias.
    if (onednn_linear_enabled()) {
      EXPECT_GT(onednn_linear_primitives(), primitives);
    }
    const at::Tensor ey =
        at::linear(ex, ew.to(at::kBFloat16), with_bias ? eb.to(at::kBFloat16) : at::Tensor());
    EXPECT_TRUE(equal_bits(y, ey));

    const std::vector<at::Tensor> ins =
        with_bias ? std::vector<at::Tensor>{x, w, b} : std::vector<at::Tensor>{x, w};
    const std::vector<at::Tensor> eins =
        with_bias ? std::vector<at::Tensor>{ex, ew, eb} : std::vector<at::Tensor>{ex, ew};
    const auto g = torch::autograd::grad({y}, ins, {gy});
    const auto eg = torch::autograd::grad({ey}, eins, {gy});
    EXPECT_TRUE(equal_bits(g[0], eg[0]));  // the same bf16 product

    // The weight's gradient: fp32, the exact sum to fp32 accuracy, where the eager one is
    // the bf16 product's rounding (one bf16 step, 2^-8 relative, off).
    ASSERT_EQ(g[1].scalar_type(), at::kFloat);
    const at::Tensor exact = exact_weight_grad(gy, x0);
    EXPECT_LT(relative_error(g[1], exact), 1e-5);
    const double eager_error = relative_error(eg[1], exact);
    EXPECT_GT(eager_error, 1e-4);
    EXPECT_LT(eager_error, 1.0 / 128);
    if (with_bias) {
      ASSERT_EQ(g[2].scalar_type(), at::kFloat);
      const at::Tensor exact_b = gy.reshape({-1, 24}).to(at::kDouble).sum(0);
      EXPECT_LT(relative_error(g[2], exact_b), 1e-5);
    }
  }
}

TEST_F(Bf16LinearTest, ForwardFollowsTheWeightAcrossOptimizerSteps) {
  // Forward keeps a packed copy of the fp32 weight between calls (model/onednn_linear.h): after
  // an optimizer-like in-place update the next forward must use the new values, both through
  // ATen's in-place ops and through a write to the raw data that bumps the version itself (as
  // pretrain's AdamW kernel does).
  torch::manual_seed(8);
  const at::Tensor x = at::randn({64, 32}).to(at::kBFloat16);
  const at::Tensor w = (at::randn({48, 32}) * 0.2).requires_grad_(true);
  const at::Tensor b = at::randn({48}).requires_grad_(true);
  auto eager = [&] {
    return at::linear(x, w.detach().to(at::kBFloat16), b.detach().to(at::kBFloat16));
  };
  const at::Tensor y0 = bf16_linear(x, w, b);
  EXPECT_TRUE(equal_bits(y0.detach(), eager()));
  {
    torch::NoGradGuard no_grad;
    w.sub_(0.05);
  }
  const at::Tensor y1 = bf16_linear(x, w, b);
  EXPECT_FALSE(equal_bits(y1.detach(), y0.detach()));
  EXPECT_TRUE(equal_bits(y1.detach(), eager()));
  {
    torch::NoGradGuard no_grad;
    w.data_ptr<float>()[0] += 1.0f;  // through the raw data, then the version moved by hand
    w.unsafeGetTensorImpl()->bump_version();
  }
  EXPECT_TRUE(equal_bits(bf16_linear(x, w, b).detach(), eager()));
}

TEST_F(Bf16LinearTest, WeightGradientOfNoRowsIsZero) {
  const at::Tensor gy = at::empty({0, 5}, at::kBFloat16), x = at::empty({0, 7}, at::kBFloat16);
  const at::Tensor g = bf16_weight_grad(gy, x);
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(g.abs().sum().item<double>(), 0.0);
}

TEST_F(Bf16LinearTest, RefusesWhatItDoesNotCompute) {
  const at::Tensor x16 = at::randn({4, 8}).to(at::kBFloat16), w = at::randn({3, 8});
  EXPECT_FALSE(bf16_linear_supports(x16.to(at::kFloat), w));                        // fp32 input
  EXPECT_FALSE(bf16_linear_supports(x16, w.to(at::kBFloat16)));                     // bf16 weight
  EXPECT_THROW(bf16_linear(x16, at::randn({3, 9}), at::Tensor()), std::exception);  // widths
  EXPECT_THROW(bf16_linear(x16, w, at::randn({4})), std::exception);                // bias width
}

// The feed-forward node with fp32 master parameters and bf16 x: the bf16 node's values and
// input gradient, and fp32 parameter gradients that are those of the same bf16 products.
TEST_F(Bf16LinearTest, FeedForwardTakesFp32MasterParameters) {
  torch::manual_seed(4);
  const at::Tensor x0 = at::randn({2, 33, 16}).to(at::kBFloat16);
  const at::Tensor w10 = at::randn({64, 16}) * 0.4, b10 = at::randn({64});
  const at::Tensor w20 = at::randn({16, 64}) * 0.2, b20 = at::randn({16});
  const at::Tensor gy = at::randn({2, 33, 16}).to(at::kBFloat16);
  auto leaf = [](const at::Tensor& t) { return t.clone().requires_grad_(true); };
  const std::vector<at::Tensor> master = {leaf(x0), leaf(w10), leaf(b10), leaf(w20), leaf(b20)};
  const std::vector<at::Tensor> low = {leaf(x0), leaf(w10.to(at::kBFloat16)),
                                       leaf(b10.to(at::kBFloat16)), leaf(w20.to(at::kBFloat16)),
                                       leaf(b20.to(at::kBFloat16))};
  const at::Tensor y = gelu_feed_forward(master[0], master[1], master[2], master[3], master[4],
                                         /*tanh_approx=*/false);
  const at::Tensor ey =
      gelu_feed_forward(low[0], low[1], low[2], low[3], low[4], /*tanh_approx=*/false);
  EXPECT_TRUE(equal_bits(y, ey));
  const auto g = torch::autograd::grad({y}, master, {gy});
  const auto eg = torch::autograd::grad({ey}, low, {gy});
  EXPECT_TRUE(equal_bits(g[0], eg[0]));
  for (size_t i = 1; i < g.size(); ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    ASSERT_EQ(g[i].scalar_type(), at::kFloat);
    // The bf16 node's gradient is the same sum rounded to bf16: within one bf16 step of ours.
    EXPECT_LE(relative_error(eg[i], g[i]), 1.0 / 128);
    // ... and it was not rounded to bf16 on the way: most entries need fp32's bits.
    const at::Tensor rounded = g[i].to(at::kBFloat16).to(at::kFloat);
    EXPECT_GT(g[i].ne(rounded).to(at::kFloat).mean().item<double>(), 0.5);
  }
  // Without a gradient the master parameters give the same values too: bit for bit on ATen's
  // products; on oneDNN's (model/onednn_linear.h), whose GELU takes the unrounded product, within
  // one bf16 step of the output's scale.
  at::NoGradGuard no_grad;
  const at::Tensor eval = gelu_feed_forward(x0, w10, b10, w20, b20, false);
  if (onednn_linear_supports(x0, w10)) {
    EXPECT_LE(relative_error(eval, ey.detach()), 1.0 / 128);
  } else {
    EXPECT_TRUE(equal_bits(eval, ey.detach()));
  }
}

}  // namespace
}  // namespace electra::model
