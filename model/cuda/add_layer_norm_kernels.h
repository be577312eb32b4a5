// CUDA kernels of LayerNorm(dropout(y) + residual), the end of every attention and feed-forward
// block, in one pass each way (model/add_layer_norm.h has the autograd node and the CPU
// version). ATen does the same with ~5 kernels forward (dropout, the cast of a bf16 y to fp32,
// the add, LayerNorm, the next product's cast back to bf16) and ~6 backward (LayerNorm's input
// and parameter gradients, the cast back, the gradient sum, dropout, the cast), each a full
// pass over [tokens, hidden]. Plain CUDA on raw pointers, so that this file compiles without
// LibTorch's headers; one warp per row, 4-element vector accesses, so the hidden size is a
// multiple of 4 and at most kMaxHidden.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

namespace electra::model::cuda {

constexpr int64_t kMaxHidden = 1024;

// The dtype of y and of the low-precision copies: fp32, bf16 or fp16.
enum class Elem : int { kFloat = 0, kBFloat16 = 1, kHalf = 2 };

// Per row r of [rows, h] (all contiguous):
//   t = y * scale rounded to y's dtype where hash_keep(seed, r * h + j, threshold), else 0
//   x = t + residual (fp32); out = (x - mean) * rstd * gamma + beta
// with the row's mean and rstd = 1 / sqrt(biased variance + eps). Writes x, mean, rstd (for
// backward), out (fp32) and, when out_low is not null, out rounded to y's dtype (not for fp32).
struct AddLayerNormForward {
  const void* y = nullptr;
  Elem elem = Elem::kFloat;
  const float* residual = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float eps = 1e-12f;
  uint32_t threshold = 0;  // model/cuda/dropout_hash.h; 0: no dropout
  float scale = 1.0f;      // 1 / (1 - p)
  uint64_t seed = 0;
  // When not null, the seed is read here, on the device, when the kernel runs (a CUDA graph
  // replays with new seeds: model/seed_slots.h), and `seed` is ignored.
  const uint64_t* seed_at = nullptr;
  int64_t rows = 0, h = 0;
  float* x = nullptr;
  float* mean = nullptr;
  float* rstd = nullptr;
  float* out = nullptr;
  void* out_low = nullptr;
};
cudaError_t add_layer_norm_forward(const AddLayerNormForward& a, cudaStream_t stream);

// From the gradient of out, g = g_out (fp32, may be null) + g_low (the gradient of out_low, in
// y's dtype, may be null), per row:
//   dx = rstd * (g*gamma - mean(g*gamma) - xhat * mean(g*gamma*xhat)), xhat = (x - mean) * rstd
// written as the residual's gradient (fp32), and y's gradient dy in y's dtype: dx rounded to
// y's dtype (as the eager path's cast back rounds it), times scale, where the element was kept,
// else 0. The parameter gradients go to partial ([add_layer_norm_blocks(rows), 2, h] fp32:
// sum over rows of g * xhat, then of g, per block of rows, in row order), which the caller sums
// over its first dimension: a fixed order, so the result does not depend on scheduling.
struct AddLayerNormBackward {
  const float* g_out = nullptr;
  const void* g_low = nullptr;
  Elem elem = Elem::kFloat;
  const float* x = nullptr;
  const float* mean = nullptr;
  const float* rstd = nullptr;
  const float* gamma = nullptr;
  uint32_t threshold = 0;
  float scale = 1.0f;
  uint64_t seed = 0;
  const uint64_t* seed_at = nullptr;  // as in AddLayerNormForward
  int64_t rows = 0, h = 0;
  float* dx = nullptr;
  void* dy = nullptr;
  float* partial = nullptr;
};
int64_t add_layer_norm_blocks(int64_t rows);
cudaError_t add_layer_norm_backward(const AddLayerNormBackward& a, cudaStream_t stream);

}  // namespace electra::model::cuda
