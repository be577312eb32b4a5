// Self-attention on the CPU in one fused pass per (sequence, head): q k^T, the 1/sqrt(d) scale,
// the padding mask, softmax, dropout and the product with v, with the block's [seq, seq]
// scores never leaving a per-thread buffer. LibTorch 1.13 runs the eager path's batched
// products on one thread, one OpenBLAS call per (sequence, head), and streams the
// [batch, heads, seq, seq] scores through memory five times (divide, mask, softmax, dropout,
// cast); this kernel runs the (sequence, head) blocks in parallel and calls the BLAS directly.
// Numerically it is HF's eager order, bf16 roundings included (tests/model/cpu_attention_test.cpp
// compares the two, dropout included, in values and gradients). In fp32 the products run on the
// process's sgemm; in bf16 on oneDNN's bf16 GEMM (fp32 sums of the exact bf16 products), forward
// and backward, with no bf16 tensor widened whole. Without oneDNN, bf16 products run in fp32 on
// the widened values, which in training is slower than ATen's bf16 batched products
// (fused_cpu_attention_preferred).
#pragma once

#include <ATen/Tensor.h>

namespace electra::model {

// Whether fused_cpu_attention can take `qkv`: a contiguous fp32 or bf16 CPU tensor, and a BLAS
// sgemm in the process (Debian's OpenBLAS; a LibTorch with its BLAS hidden has none).
bool fused_cpu_attention_supports(const at::Tensor& qkv);

// Whether the model should take fused_cpu_attention for `qkv` (needs_grad: in training): where it
// is supported, except bf16 training without oneDNN's bf16 GEMM, where the eager path's bf16
// products with fused_softmax_dropout in the middle measured ~6% faster a step.
bool fused_cpu_attention_preferred(const at::Tensor& qkv, bool needs_grad);

// qkv: [batch, seq, 3 * H], the query, key and value projections side by side (H = heads *
// head_dim); mask_bias: [batch, 1, 1, seq] fp32 additive (0 or fp32's lowest), or undefined;
// dropout_p: on the attention probabilities, with model/fast_random.h's mask (0 in
// evaluation). -> [batch, seq, H] in qkv's dtype, the heads' contexts side by side.
// Differentiable in qkv.
at::Tensor fused_cpu_attention(const at::Tensor& qkv, int64_t heads, const at::Tensor& mask_bias,
                               double dropout_p);

// The middle of the eager attention alone, for bf16 training without oneDNN's bf16 GEMM (see
// fused_cpu_attention_preferred): probs = dropout(softmax(scores / sqrt(head_dim)
// + mask)) in one pass per (sequence, head) instead of the eager path's five passes (widen,
// divide, mask, softmax, dropout, narrow) over [batch, heads, seq, seq], each again in backward.
// HF's eager order and bf16 roundings; the same dropout mask as model::dropout.
// scores: [batch, heads, seq, seq] fp32 or bf16 (q k^T); mask_bias as fused_cpu_attention's.
// -> the dropped probabilities, in the scores' dtype. Differentiable in scores.
bool fused_softmax_dropout_supports(const at::Tensor& scores);
at::Tensor fused_softmax_dropout(const at::Tensor& scores, const at::Tensor& mask_bias,
                                 int64_t head_dim, double dropout_p);

}  // namespace electra::model
