// gelu_feed_forward (one node, the GELU fused and recomputed in backward) against plain
// autograd over ATen's linear / gelu / linear: the same values and gradients, in fp32 and
// bf16, with and without a gradient.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "model/feed_forward.h"

namespace electra::model {
namespace {

struct Inputs {
  at::Tensor x, w1, b1, w2, b2;  // [3, 5, 16], [32, 16], [32], [8, 32], [8]
  std::vector<at::Tensor> all() const { return {x, w1, b1, w2, b2}; }
};

Inputs make_inputs(at::ScalarType dt) {
  torch::manual_seed(1);
  auto leaf = [&](at::Tensor t) { return t.to(dt).requires_grad_(true); };
  return {leaf(at::randn({3, 5, 16})), leaf(at::randn({32, 16}) * 0.5), leaf(at::randn({32})),
          leaf(at::randn({8, 32}) * 0.5), leaf(at::randn({8}))};
}

at::Tensor reference(const Inputs& in, const char* approx) {
  return at::linear(at::gelu(at::linear(in.x, in.w1, in.b1), approx), in.w2, in.b2);
}

// fp32: |a - b| <= 1e-5 (|b| + 1) elementwise. bf16: max |a - b| <= 2^-6 max |b|; elementwise
// bounds do not hold there, because an erf that differs in its last bit can flip one bf16
// rounding of the GELU, and the weight gradients sum such values over rows (measured: 0.19 on
// a gradient of magnitude 40, one bf16 step of 32).
bool close(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kFloat), y = b.to(at::kFloat);
  if (a.scalar_type() == at::kFloat)
    return ((x - y).abs() <= (y.abs() + 1) * 1e-5).all().item<bool>();
  return (x - y).abs().max().item<double>() <= y.abs().max().item<double>() / 64;
}

TEST(FeedForwardTest, MatchesPlainAutogradInValuesAndGradients) {
  for (const auto dt : {at::kFloat, at::kBFloat16}) {
    for (const char* approx : {"none", "tanh"}) {
      SCOPED_TRACE(std::string(approx) + (dt == at::kFloat ? " fp32" : " bf16"));
      const Inputs ours = make_inputs(dt), ref = make_inputs(dt);
      const at::Tensor gy = at::randn({3, 5, 8}).to(dt);
      const at::Tensor out =
          gelu_feed_forward(ours.x, ours.w1, ours.b1, ours.w2, ours.b2, approx[0] == 't');
      const at::Tensor expected = reference(ref, approx);
      ASSERT_EQ(out.scalar_type(), dt);
      ASSERT_EQ(out.sizes(), expected.sizes());
      EXPECT_TRUE(close(out, expected));
      const auto grads = torch::autograd::grad({out}, ours.all(), {gy});
      const auto expected_grads = torch::autograd::grad({expected}, ref.all(), {gy});
      for (size_t i = 0; i < grads.size(); ++i) {
        ASSERT_EQ(grads[i].scalar_type(), dt) << "gradient " << i;
        EXPECT_TRUE(close(grads[i], expected_grads[i])) << "gradient " << i;
        EXPECT_GT(grads[i].abs().sum().item<double>(), 0.1) << "gradient " << i;
      }
      // Without a gradient: the same values, nothing kept.
      torch::NoGradGuard no_grad;
      const at::Tensor eval =
          gelu_feed_forward(ours.x, ours.w1, ours.b1, ours.w2, ours.b2, approx[0] == 't');
      EXPECT_FALSE(eval.requires_grad());
      EXPECT_TRUE(close(eval, expected));
    }
  }
}

TEST(FeedForwardTest, LeavesTheOutputBiasToTheCallerWhenUndefined) {
  const Inputs in = make_inputs(at::kFloat);
  const at::Tensor with = gelu_feed_forward(in.x, in.w1, in.b1, in.w2, in.b2, false);
  const at::Tensor without = gelu_feed_forward(in.x, in.w1, in.b1, in.w2, at::Tensor(), false);
  EXPECT_TRUE(close(without + in.b2, with));
  const auto grads = torch::autograd::grad({without.sum()}, {in.x, in.w1, in.b1, in.w2});
  const auto expected = torch::autograd::grad({with.sum()}, {in.x, in.w1, in.b1, in.w2});
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_TRUE(close(grads[i], expected[i])) << "gradient " << i;
}

TEST(FeedForwardTest, TheTwoApproximationsDiffer) {
  // Guards against one variant silently computing the other: erf and tanh GELU differ by up
  // to ~5e-4 around |x| = 2.
  const Inputs in = make_inputs(at::kFloat);
  torch::NoGradGuard no_grad;
  const at::Tensor erf = gelu_feed_forward(in.x * 3, in.w1, in.b1, in.w2, in.b2, false);
  const at::Tensor tanh = gelu_feed_forward(in.x * 3, in.w1, in.b1, in.w2, in.b2, true);
  EXPECT_GT((erf - tanh).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace electra::model
