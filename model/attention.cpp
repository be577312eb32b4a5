#include "model/attention.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/version.h>

#include "common/error.h"

namespace electra::model {

// The one place that knows which LibTorch has SDPA.
#if TORCH_VERSION_MAJOR >= 2
bool sdpa_available() {
  return true;
}
#else
bool sdpa_available() {
  return false;
}
#endif

AttentionKernel resolve_attention(const std::string& name, const std::string& where) {
  if (name == "eager") return AttentionKernel::kEager;
  if (name == "fused") return AttentionKernel::kFused;
  if (name == "auto") return sdpa_available() ? AttentionKernel::kSdpa : AttentionKernel::kFused;
  ELECTRA_CHECK_USER(name == "sdpa", "model.attention must be auto, eager, fused or sdpa, got '",
                     name, "' ", where);
  ELECTRA_CHECK_USER(sdpa_available(), "model.attention is sdpa ", where, " but this LibTorch (",
                     TORCH_VERSION,
                     ") has no scaled_dot_product_attention (it came with LibTorch 2.0). Use "
                     "model.attention=auto or eager");
  return AttentionKernel::kSdpa;
}

const char* attention_name(AttentionKernel kernel) {
  switch (kernel) {
    case AttentionKernel::kSdpa:
      return "sdpa";
    case AttentionKernel::kFused:
      return "fused";
    case AttentionKernel::kEager:
      break;
  }
  return "eager";
}

namespace {

// Context setters that came with later LibTorch versions (cuDNN's attention, FlashAttention-3),
// called where this one has them: true if it did.
template <typename C>
auto set_cudnn_sdp(C& c, bool on, int) -> decltype(c.setSDPUseCuDNN(on), bool()) {
  c.setSDPUseCuDNN(on);
  return true;
}
template <typename C>
bool set_cudnn_sdp(C&, bool, long) {
  return false;
}
template <typename C>
auto set_fa3_sdp(C& c, bool on, int) -> decltype(c.setSDPUseFA3(on), bool()) {
  c.setSDPUseFA3(on);
  return true;
}
template <typename C>
bool set_fa3_sdp(C&, bool, long) {
  return false;
}

}  // namespace

void set_sdpa_backend(const std::string& name, const std::string& where) {
  if (name == "auto") return;
  ELECTRA_CHECK_USER(
      name == "flash" || name == "fa3" || name == "efficient" || name == "cudnn" || name == "math",
      "the SDPA kernel must be auto, flash, fa3, efficient, cudnn or math, got '", name, "' ",
      where);
  ELECTRA_CHECK_USER(sdpa_available(), "the SDPA kernel is ", name, " ", where,
                     " but this LibTorch (", TORCH_VERSION,
                     ") has no scaled_dot_product_attention; unset it");
#if TORCH_VERSION_MAJOR >= 2
  auto& ctx = at::globalContext();
  const bool has_cudnn = set_cudnn_sdp(ctx, name == "cudnn", 0);
  const bool has_fa3 = set_fa3_sdp(ctx, name == "fa3", 0);
  ELECTRA_CHECK_USER(name != "cudnn" || has_cudnn, "the SDPA kernel is cudnn ", where,
                     " but this LibTorch (", TORCH_VERSION, ") cannot choose cuDNN's attention");
  ELECTRA_CHECK_USER(name != "fa3" || has_fa3, "the SDPA kernel is fa3 ", where,
                     " but this LibTorch (", TORCH_VERSION, ") cannot choose FlashAttention-3");
  ctx.setSDPUseFlash(name == "flash");
  ctx.setSDPUseMemEfficient(name == "efficient");
  ctx.setSDPUseMath(true);
#endif
}

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& key_keep, double dropout_p) {
#if TORCH_VERSION_MAJOR >= 2
  // No mask at all when nothing is padded: the flash kernel takes no mask. The default scale
  // is 1/sqrt(head_dim), as in the eager path.
  if (!key_keep.defined())
    return at::scaled_dot_product_attention(q, k, v, {}, dropout_p, /*is_causal=*/false);
  return at::scaled_dot_product_attention(q, k, v, key_keep, dropout_p, /*is_causal=*/false);
#else
  (void)q, (void)k, (void)v, (void)key_keep, (void)dropout_p;
  throw std::runtime_error(
      cat("internal error: sdpa() called on LibTorch ", TORCH_VERSION, " (see sdpa_available())"));
#endif
}

}  // namespace electra::model
