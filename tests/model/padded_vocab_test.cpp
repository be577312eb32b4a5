// model/cuda_linear.h's padded_vocab_linear on the CPU: the generator head's product with the
// vocabulary padded inside it gives at::linear's values and gradients, as a view of the padded
// product, and the padding never reaches a parameter's gradient.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/cuda_linear.h"

namespace electra::model {
namespace {

struct Grads {
  at::Tensor y, gx, gw, gb;
};

// y = f(x, w, b) and the gradients of sum(y * gy), on fresh leaves.
template <typename F>
Grads run(F f, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
          const at::Tensor& gy) {
  at::Tensor xl = x.clone().requires_grad_(), wl = w.clone().requires_grad_(),
             bl = b.clone().requires_grad_();
  at::Tensor y = f(xl, wl, bl);
  y.backward(gy);
  return {y.detach(), xl.grad(), wl.grad(), bl.grad()};
}

TEST(PaddedVocabLinear, Fp32MatchesLinearAsAStridedView) {
  torch::manual_seed(5);
  const at::Tensor x = at::randn({6, 16}), w = at::randn({37, 16}), b = at::randn({37});
  const at::Tensor gy = at::randn({6, 37});
  const Grads p =
      run([](auto& x, auto& w, auto& b) { return padded_vocab_linear(x, w, b, 8); }, x, w, b, gy);
  const Grads r = run([](auto& x, auto& w, auto& b) { return at::linear(x, w, b); }, x, w, b, gy);
  ASSERT_EQ(p.y.sizes(), (at::IntArrayRef{6, 37}));
  EXPECT_EQ(p.y.stride(0), 40);  // 37 rounded up to 8: the padded product's row
  EXPECT_TRUE(at::allclose(p.y, r.y, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(p.gx, r.gx, 1e-5, 1e-5));
  ASSERT_EQ(p.gw.sizes(), w.sizes());
  ASSERT_EQ(p.gb.sizes(), b.sizes());
  EXPECT_TRUE(at::allclose(p.gw, r.gw, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(p.gb, r.gb, 1e-5, 1e-5));
  // The known answer of one element: y[2, 36] = x[2] . w[36] + b[36].
  EXPECT_NEAR(p.y[2][36].item<float>(), (x[2] * w[36]).sum().item<float>() + b[36].item<float>(),
              1e-4);
}

TEST(PaddedVocabLinear, Bf16ProductOfFp32ParametersAsTrainingRunsIt) {
  torch::manual_seed(6);
  const at::Tensor x = at::randn({5, 32}).to(at::kBFloat16);
  const at::Tensor w = at::randn({50, 32}), b = at::randn({50});
  const at::Tensor gy = at::randn({5, 50}).to(at::kBFloat16);
  const Grads p =
      run([](auto& x, auto& w, auto& b) { return padded_vocab_linear(x, w, b, 64); }, x, w, b, gy);
  const Grads r =
      run([](auto& x, auto& w,
             auto& b) { return at::linear(x, w.to(at::kBFloat16), b.to(at::kBFloat16)); },
          x, w, b, gy);
  EXPECT_EQ(p.y.scalar_type(), at::kBFloat16);
  EXPECT_EQ(p.y.stride(0), 64);
  // Parameters' gradients come back in the parameters' dtype, as through w.to(bf16).
  EXPECT_EQ(p.gw.scalar_type(), at::kFloat);
  EXPECT_EQ(p.gb.scalar_type(), at::kFloat);
  // One bf16 unit of the largest values: the products may round once differently.
  const auto close = [](const at::Tensor& a, const at::Tensor& c) {
    return at::allclose(a.to(at::kFloat), c.to(at::kFloat), 1.0 / 64, 1.0 / 16);
  };
  EXPECT_TRUE(close(p.y, r.y));
  EXPECT_TRUE(close(p.gx, r.gx));
  EXPECT_TRUE(close(p.gw, r.gw));
  EXPECT_TRUE(close(p.gb, r.gb));
}

TEST(PaddedVocabLinear, AlignedVocabIsThePlainProduct) {
  const at::Tensor x = at::randn({3, 8}), w = at::randn({16, 8}), b = at::randn({16});
  const at::Tensor y = padded_vocab_linear(x, w, b, 8);
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_TRUE(at::allclose(y, at::linear(x, w, b), 1e-6, 1e-6));
}

TEST(PaddedVocabLinear, OnlyCudaTrainingInLowPrecisionPads) {
  const at::Tensor x = at::randn({2, 4}).to(at::kBFloat16);
  EXPECT_FALSE(pad_vocab_enabled(x));  // the CPU: no alignment to gain (measured)
}

TEST(PaddedVocabLinear, RejectsMismatchedShapes) {
  const at::Tensor x = at::randn({2, 4}), w = at::randn({5, 4});
  EXPECT_ANY_THROW(padded_vocab_linear(x, w, at::randn({4}), 8));
  EXPECT_ANY_THROW(padded_vocab_linear(x, w, at::randn({5}), 0));
  EXPECT_ANY_THROW(padded_vocab_linear(at::randn({2, 3}), w, at::randn({5}), 8));
}

}  // namespace
}  // namespace electra::model
