// Which kernel computes self-attention. "eager" is HF's eager order spelled out
// (matmul, fp32 softmax, dropout, matmul) and works on every LibTorch; "fused" is the same
// order in one parallel pass per (sequence, head) on the CPU (model/cpu_attention.h), forward
// and backward, fp32 and bf16 (bf16 training without oneDNN's bf16 GEMM fuses only the softmax
// middle between ATen's bf16 products); other devices run eager. On the CPU "fused" also fuses
// every block's dropout, residual add and LayerNorm (model/add_layer_norm.h). "sdpa" is
// at::scaled_dot_product_attention (LibTorch >= 2), which on CUDA picks the flash or
// memory-efficient kernel and never materialises the [batch, heads, seq, seq] scores.
// In evaluation both give the same numbers (tests/model/attention_test.cpp); in training SDPA's
// attention dropout draws from torch's own generator, so its dropout masks differ from the
// eager path's (model/fast_random.h) for the same seed.
#pragma once

#include <ATen/Tensor.h>

#include <string>

namespace electra::model {

enum class AttentionKernel { kEager, kFused, kSdpa };

// True when this LibTorch has at::scaled_dot_product_attention (2.x).
bool sdpa_available();
// "auto" (sdpa where available, else fused), "eager", "fused" or "sdpa". sdpa on a LibTorch
// without it is a UserError naming `where` (the key and its source).
AttentionKernel resolve_attention(const std::string& name, const std::string& where);
const char* attention_name(AttentionKernel kernel);

// Which of SDPA's kernels LibTorch may pick, process-wide: "auto" leaves its own choice (on an
// H100/H200 with LibTorch 2.11, cuDNN's); "flash", "fa3" (FlashAttention-3), "efficient" or
// "cudnn" allows that one, with "math" as the fallback for inputs it does not take (flash takes
// no padding mask); "math" only the reference kernel. For A/B runs (ELECTRA_CUDA_SDPA,
// pretrain/device.h's apply_runtime). Another name, or a kernel this LibTorch cannot be told to
// choose (1.13 has no SDPA; cudnn and fa3 came later in 2.x), is a UserError naming `where`.
void set_sdpa_backend(const std::string& name, const std::string& where);

// softmax(q k^T / sqrt(d), masked) v. q, k, v: [batch, heads, seq, head_dim] (one dtype);
// key_keep: [batch, 1, 1, seq] bool, true where a key may be attended to, or undefined for no
// padding; dropout_p: attention-probability dropout (0 in evaluation).
// -> [batch, heads, seq, head_dim]. Only callable when sdpa_available().
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& key_keep, double dropout_p);

}  // namespace electra::model
