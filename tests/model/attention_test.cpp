// model.attention: eager and at::scaled_dot_product_attention give the same encoder output in
// evaluation (LibTorch 2.x only; 1.13 has no SDPA and skips the parity tests).
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include "model/attention.h"
#include "model/electra.h"
#include "tests/support/sdpa_parity.h"
#include "tests/support/user_error.h"

namespace electra::model {
namespace {

TEST(Attention, KernelSelection) {
  EXPECT_EQ(resolve_attention("eager", "(test)"), AttentionKernel::kEager);
  EXPECT_EQ(resolve_attention("fused", "(test)"), AttentionKernel::kFused);
  EXPECT_EQ(resolve_attention("auto", "(test)"),
            sdpa_available() ? AttentionKernel::kSdpa : AttentionKernel::kFused);
  EXPECT_STREQ(attention_name(AttentionKernel::kFused), "fused");
  EXPECT_EQ(sdpa_available(), TORCH_VERSION_MAJOR >= 2);
  const std::string e = testing::user_error_of([] { resolve_attention("sdpa", "(file.yaml:3)"); });
  EXPECT_EQ(e == "no error", sdpa_available()) << e;
  if (!sdpa_available()) {
    EXPECT_NE(e.find("model.attention is sdpa (file.yaml:3)"), std::string::npos) << e;
  }
  // set_attention reaches every layer of a model.
  ElectraForPreTraining disc(testing::parity_config());
  set_attention(*disc, AttentionKernel::kSdpa);
  for (auto& layer : disc->electra->encoder->layers)
    EXPECT_EQ(layer->attention->self->kernel, AttentionKernel::kSdpa);
}

// ELECTRA_CUDA_SDPA's choice among SDPA's kernels: names checked, flags set where this LibTorch
// has them (the math kernel stays as the fallback), "auto" changes nothing.
TEST(Attention, SdpaBackendChoice) {
  EXPECT_EQ(testing::user_error_of([] { set_sdpa_backend("auto", "(env)"); }), "no error");
  const std::string bad = testing::user_error_of([] { set_sdpa_backend("fast", "(env X)"); });
  EXPECT_NE(bad.find("must be auto, flash, fa3, efficient, cudnn or math, got 'fast' (env X)"),
            std::string::npos)
      << bad;
  const std::string flash = testing::user_error_of([] { set_sdpa_backend("flash", "(env X)"); });
  if (!sdpa_available()) {
    EXPECT_NE(flash.find("has no scaled_dot_product_attention"), std::string::npos) << flash;
    return;
  }
#if TORCH_VERSION_MAJOR >= 2
  auto& ctx = at::globalContext();
  const bool was_flash = ctx.userEnabledFlashSDP(),
             was_efficient = ctx.userEnabledMemEfficientSDP();
  EXPECT_EQ(flash, "no error");
  EXPECT_TRUE(ctx.userEnabledFlashSDP());
  EXPECT_FALSE(ctx.userEnabledMemEfficientSDP());
  EXPECT_TRUE(ctx.userEnabledMathSDP());
  set_sdpa_backend("efficient", "(env)");
  EXPECT_FALSE(ctx.userEnabledFlashSDP());
  EXPECT_TRUE(ctx.userEnabledMemEfficientSDP());
  ctx.setSDPUseFlash(was_flash);
  ctx.setSDPUseMemEfficient(was_efficient);
#endif
}

TEST(Attention, SdpaMatchesEagerInEvaluationFp32) {
  if (!sdpa_available())
    GTEST_SKIP() << "LibTorch " TORCH_VERSION
                    " has no scaled_dot_product_attention; this parity "
                    "test runs under LibTorch 2.x (tests/gpu runs it on CUDA too)";
  EXPECT_LT(testing::eager_sdpa_max_diff(at::kCPU, at::kFloat, /*padded=*/false), 1e-5);
  EXPECT_LT(testing::eager_sdpa_max_diff(at::kCPU, at::kFloat, /*padded=*/true), 1e-5);
}

}  // namespace
}  // namespace electra::model
