// The CUDA LayerNorm(dropout(y) + residual) kernels (model/add_layer_norm.h) against the eager
// order in ATen ops on the same device: values, the low-precision copy, and the gradients of
// y, residual, gamma and beta, with the gradients of both outputs fed back; fp32, bf16 and
// fp16; with and without dropout (the eager side applies the kernel's own mask,
// cuda_dropout_keep_mask); several hidden sizes and row counts that fill no block exactly.
// Skipped without a CUDA device or without the kernels in the build.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "model/add_layer_norm.h"
#include "model/electra.h"
#include "model/fast_random.h"
#include "tests/support/cuda_kernels.h"
#include "tests/support/sdpa_parity.h"

namespace electra::model {
namespace {

using electra::testing::rel_err;

const at::Device kCuda(at::kCUDA, 0);

struct Case {
  at::Tensor y, residual, weight, bias;  // [rows, h] in dt, [rows, h], [h], [h] fp32 (CUDA)
  at::Tensor g_out, g_low;               // upstream gradients of out (fp32) and low (dt)
};

Case make_case(int64_t rows, int64_t h, at::ScalarType dt) {
  torch::manual_seed(3);
  auto leaf = [](const at::Tensor& t) { return t.to(kCuda).detach().requires_grad_(true); };
  Case c;
  c.y = leaf(at::randn({rows, h}).to(dt));
  c.residual = leaf(at::randn({rows, h}) * 2 + 1);
  c.weight = leaf(at::rand({h}) + 0.5);
  c.bias = leaf(at::randn({h}));
  c.g_out = at::randn({rows, h}).to(kCuda);
  c.g_low = at::randn({rows, h}).to(kCuda).to(dt);
  return c;
}

struct Result {
  at::Tensor out, low, dy, dres, dgamma, dbeta;  // all on the CPU
};

// Backward of out . g_out + low . g_low, and everything the test compares.
Result finish(Case& c, const at::Tensor& out, const at::Tensor& low) {
  at::Tensor loss = (out * c.g_out).sum();
  if (low.defined()) loss = loss + (low.to(at::kFloat) * c.g_low.to(at::kFloat)).sum();
  for (at::Tensor* t : {&c.y, &c.residual, &c.weight, &c.bias})
    if (t->grad().defined()) t->mutable_grad().zero_();
  loss.backward();
  auto cpu = [](const at::Tensor& t) { return t.defined() ? t.detach().to(at::kCPU) : t; };
  return {
      cpu(out),          cpu(low), cpu(c.y.grad()), cpu(c.residual.grad()), cpu(c.weight.grad()),
      cpu(c.bias.grad())};
}

// The eager order: dropout in y's dtype (bf16(y * scale) where kept), the add and LayerNorm
// in fp32, the low copy a cast.
Result eager(Case& c, double p, const at::Tensor& keep, bool low_copy) {
  at::Tensor t = c.y;
  if (p > 0) {
    t = (c.y.to(at::kFloat) * static_cast<double>(dropout_scale(p))).to(c.y.scalar_type()) *
        keep.to(kCuda).to(c.y.scalar_type());
  }
  const at::Tensor out =
      at::layer_norm(t.to(at::kFloat) + c.residual, {c.y.size(-1)}, c.weight, c.bias, 1e-12);
  return finish(c, out, low_copy ? out.to(c.y.scalar_type()) : at::Tensor());
}

Result fused(Case& c, double p, bool low_copy) {
  const auto outs = cuda_add_layer_norm(c.y, c.residual, c.weight, c.bias, 1e-12, p, low_copy);
  return finish(c, outs[0], outs.size() > 1 ? outs[1] : at::Tensor());
}

TEST(CudaAddLayerNorm, MatchesTheEagerOrderInValuesAndGradients) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  struct Shape {
    int64_t rows, h;
  };
  // 64: ELECTRA-Small's generator; 1000: a hidden size that is not a multiple of 32; 111 and
  // 70 rows fill neither a forward block (8 rows) nor a backward one (64).
  for (const Shape s : {Shape{111, 64}, Shape{70, 256}, Shape{130, 768}, Shape{9, 1000}}) {
    for (const auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (const double p : {0.0, 0.1}) {
        SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.h << " " << dt << " p=" << p);
        const bool low_copy = dt != at::kFloat;
        Case c = make_case(s.rows, s.h, dt);
        // The seed the call draws from the CPU generator, drawn the same way first.
        at::Generator gen = at::detail::getDefaultCPUGenerator();
        torch::manual_seed(17);
        const uint64_t seed = draw_seed(gen);
        torch::manual_seed(17);
        const Result got = fused(c, p, low_copy);
        const at::Tensor keep = cuda_dropout_keep_mask(seed, s.rows, s.h, p);
        const Result want = eager(c, p, keep, low_copy);

        // fp32 sums in another order: a few ulps.
        EXPECT_LT(rel_err(got.out, want.out), 2e-5);
        EXPECT_LT(rel_err(got.dres, want.dres), 2e-5);
        EXPECT_LT(rel_err(got.dgamma, want.dgamma), 1e-4);
        EXPECT_LT(rel_err(got.dbeta, want.dbeta), 1e-4);
        if (low_copy) {
          // The copy is the kernel's own output rounded, exactly.
          EXPECT_TRUE(at::equal(got.low, got.out.to(dt)));
        }
        // y's gradient is rounded to dt at the same two places on both sides (dx, then dx
        // times the dropout scale); an fp32 difference of a few ulps can still round the other
        // way at each: two units of dt (2^-8 for bf16, 2^-11 for fp16) at most.
        const double unit = dt == at::kFloat ? 2e-5 : (dt == at::kBFloat16 ? 1.6e-2 : 2e-3);
        EXPECT_LT(rel_err(got.dy, want.dy), unit);
        if (p > 0) {
          // Dropped elements have no gradient on either side, and about p of them are dropped.
          EXPECT_TRUE(at::equal(got.dy.eq(0).logical_and(keep.logical_not()), keep.logical_not()));
          const double dropped = 1.0 - keep.to(at::kFloat).mean().item<double>();
          EXPECT_NEAR(dropped, p, 5.0 * std::sqrt(p * (1 - p) / keep.numel()) + 1e-3);
        }
      }
    }
  }
}

TEST(CudaAddLayerNorm, EachCallDrawsANewMaskAndTheSameSeedTheSameOne) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  Case c = make_case(64, 256, at::kBFloat16);
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  const at::Tensor a = cuda_add_layer_norm(c.y, c.residual, c.weight, c.bias, 1e-12, 0.1, false)[0];
  const at::Tensor b = cuda_add_layer_norm(c.y, c.residual, c.weight, c.bias, 1e-12, 0.1, false)[0];
  torch::manual_seed(5);
  const at::Tensor a2 =
      cuda_add_layer_norm(c.y, c.residual, c.weight, c.bias, 1e-12, 0.1, false)[0];
  EXPECT_FALSE(at::equal(a, b));
  EXPECT_TRUE(at::equal(a, a2));
}

TEST(CudaAddLayerNorm, TheDiscriminatorGivesTheSameLogitsWithAndWithoutIt) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  for (const auto dt : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(::testing::Message() << dt);
    torch::manual_seed(11);
    ElectraForPreTraining disc(electra::testing::parity_config());
    disc->to(kCuda);
    disc->eval();
    torch::NoGradGuard no_grad;
    at::Tensor ids = at::randint(5, 100, {4, 24}, at::kLong).to(kCuda);  // [4, 24]
    at::Tensor mask = at::ones({4, 24}, at::kLong);
    mask[3].slice(0, 17).zero_();
    mask = mask.to(kCuda);
    const at::Tensor plain = disc(ids, mask, at::Tensor(), dt).to(at::kCPU);
    set_fused_layer_norm(*disc, true);
    const at::Tensor fused = disc(ids, mask, at::Tensor(), dt).to(at::kCPU);
    const double scale = std::max(1.0, plain.abs().max().item<double>());
    // fp32: a few ulps through the layers; bf16: the products' inputs are the same bf16 values
    // unless a LayerNorm output rounds the other way (the bound of Gpu's CPU-vs-GPU test).
    EXPECT_LT((fused - plain).abs().max().item<double>(), (dt == at::kFloat ? 1e-4 : 5e-2) * scale);
  }
}

}  // namespace
}  // namespace electra::model
