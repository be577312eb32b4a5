// model/onednn_linear.h: products without a gradient on oneDNN's matmul primitive. bf16: the
// product computed in fp32 from the bf16-rounded operands, rounded once; fp32: fp64 arithmetic.
#include "model/onednn_linear.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <cstdlib>

#include "model/weight_cast.h"

namespace electra::model {
namespace {

class OnednnLinearTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(ELECTRA_ONEDNN)
    // Built with oneDNN: the path must be there (ELECTRA_ONEDNN_LINEAR=0 turns it off).
    const char* env = std::getenv("ELECTRA_ONEDNN_LINEAR");
    if (env && std::string(env) == "0") GTEST_SKIP() << "ELECTRA_ONEDNN_LINEAR=0";
#else
    GTEST_SKIP() << "built without oneDNN's headers";
#endif
  }
};

// fp32 act(x w^T + b) from the bf16 operands: what the primitive computes before its one
// rounding (its fp32 sums differ from these in order only).
at::Tensor expected(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, Epilogue e) {
  const auto wide = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kFloat); };
  at::Tensor y = at::matmul(wide(x), wide(w).t());
  if (b.defined()) y = y + wide(b);
  if (e == Epilogue::kGelu) y = at::gelu(y);
  if (e == Epilogue::kGeluTanh) y = at::gelu(y, "tanh");
  return y;
}

// The result is the expected value rounded to bf16: within half a bf16 step of it everywhere
// (at most 2^-8 of its magnitude), plus fp32 noise, and equal to its rounding almost everywhere.
void expect_rounded(const at::Tensor& y, const at::Tensor& want) {
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  ASSERT_EQ(y.sizes(), want.sizes());
  const at::Tensor err = (y.to(at::kFloat) - want).abs();
  EXPECT_TRUE((err <= want.abs() * (1.0 / 256) + 1e-5).all().item<bool>())
      << "max error " << err.max().item<float>();
  const double same = y.eq(want.to(at::kBFloat16)).to(at::kFloat).mean().item<double>();
  EXPECT_GT(same, 0.99);
}

TEST_F(OnednnLinearTest, ProductBiasAndGeluRoundedOnce) {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 37, 48}).to(at::kBFloat16);  // [.., in], 74 rows
  const at::Tensor w = at::randn({80, 48}) * 0.3;                 // [out, in] fp32 master
  const at::Tensor b = at::randn({80});
  ASSERT_TRUE(onednn_linear_supports(x, w));
  for (const Epilogue e : {Epilogue::kNone, Epilogue::kGelu, Epilogue::kGeluTanh}) {
    SCOPED_TRACE(static_cast<int>(e));
    const at::Tensor y = onednn_linear(x, w, b, e);
    ASSERT_EQ(y.sizes(), (at::IntArrayRef{2, 37, 80}));
    expect_rounded(y, expected(x, w, b, e));
  }
  // No bias (undefined or empty), and a bf16 weight.
  expect_rounded(onednn_linear(x, w, at::Tensor(), Epilogue::kNone),
                 expected(x, w, at::Tensor(), Epilogue::kNone));
  expect_rounded(onednn_linear(x, w, at::empty({0}), Epilogue::kNone),
                 expected(x, w, at::Tensor(), Epilogue::kNone));
  const at::Tensor w16 = w.to(at::kBFloat16);
  expect_rounded(onednn_linear(x, w16, b, Epilogue::kGelu), expected(x, w16, b, Epilogue::kGelu));
  // The erf and tanh GELUs differ by up to ~1e-3: each epilogue is the one asked for.
  const at::Tensor big = x * 3;
  EXPECT_FALSE(at::equal(onednn_linear(big, w, b, Epilogue::kGelu),
                         onednn_linear(big, w, b, Epilogue::kGeluTanh)));
}

TEST_F(OnednnLinearTest, WeightsPackedOnceAndRepackedAfterAChange) {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({16, 32}).to(at::kBFloat16);
  at::Tensor w = at::randn({24, 32});
  const at::Tensor first = onednn_linear(x, w, at::Tensor(), Epilogue::kNone);
  const size_t primitives = onednn_linear_primitives(), copies = cached_weight_casts();
  EXPECT_TRUE(at::equal(onednn_linear(x, w, at::Tensor(), Epilogue::kNone), first));
  EXPECT_EQ(onednn_linear_primitives(), primitives);  // the same primitive and packed copy
  EXPECT_EQ(cached_weight_casts(), copies);
  // An optimizer step on the weight: the next product uses the new values, not a stale pack.
  w.mul_(-2.0);
  expect_rounded(onednn_linear(x, w, at::Tensor(), Epilogue::kNone),
                 expected(x, w, at::Tensor(), Epilogue::kNone));
  // Another row count is another primitive over the same packed weight.
  const at::Tensor x5 = x.narrow(0, 0, 5);
  expect_rounded(onednn_linear(x5, w, at::Tensor(), Epilogue::kNone),
                 expected(x5, w, at::Tensor(), Epilogue::kNone));
  EXPECT_EQ(onednn_linear_primitives(), primitives + 1);
}

TEST_F(OnednnLinearTest, Fp32ProductBiasAndGelu) {
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({3, 29, 40}), w = at::randn({56, 40}) * 0.3, b = at::randn({56});
  // The fp32 product takes w and b as they are: against fp64 arithmetic, within fp32 noise.
  const at::Tensor exact =
      at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + b.to(at::kDouble);  // [3, 29, 56]
  for (const Epilogue e : {Epilogue::kNone, Epilogue::kGelu, Epilogue::kGeluTanh}) {
    SCOPED_TRACE(static_cast<int>(e));
    const at::Tensor y = onednn_linear(x, w, b, e);
    ASSERT_EQ(y.scalar_type(), at::kFloat);
    ASSERT_EQ(y.sizes(), (at::IntArrayRef{3, 29, 56}));
    const at::Tensor want = e == Epilogue::kNone   ? exact
                            : e == Epilogue::kGelu ? at::gelu(exact)
                                                   : at::gelu(exact, "tanh");
    EXPECT_LE((y.to(at::kDouble) - want).abs().max().item<double>(), 1e-5);
  }
}

TEST_F(OnednnLinearTest, OnlyWithoutAGradientAndWithMatchingDtypes) {
  const at::Tensor x = at::randn({4, 8}).to(at::kBFloat16), w = at::randn({3, 8});
  EXPECT_FALSE(onednn_linear_supports(x, w));  // gradient mode is on
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(onednn_linear_supports(x, w));
  EXPECT_TRUE(onednn_linear_supports(x.to(at::kFloat), w));
  EXPECT_FALSE(onednn_linear_supports(x.to(at::kFloat), w.to(at::kBFloat16)));
  EXPECT_FALSE(onednn_linear_supports(x.to(at::kHalf), w));
  EXPECT_FALSE(onednn_linear_supports(x, at::randn({3, 7})));  // widths disagree
  EXPECT_THROW(onednn_linear(x, w, at::randn({4}), Epilogue::kNone), std::exception);  // bias
}

}  // namespace
}  // namespace electra::model
