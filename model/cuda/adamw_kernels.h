// CUDA: the AdamW update of many fp32 parameters in one launch (pretrain/optimizer.h). ATen's
// multi-tensor AdamW (LibTorch 2.1+) launches at most 320 blocks of 512 threads at a time (its
// multi_tensor_apply's cap), about 0.6 of an H200's resident threads, each block walking a chunk
// of 65,536 elements, and took 1.3 ms of a Base step for ~120 M parameters: ~55% of the
// bandwidth its 28 bytes a parameter need. Here one grid of blocks with 4,096 elements each
// covers the tensors of a call. Plain CUDA on raw pointers, as
// model/cuda/add_layer_norm_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

namespace electra::model::cuda {

// Up to kMultiAdamWMax tensors per launch (the table travels in the kernel's parameters).
constexpr int kMultiAdamWMax = 64;

// For each tensor t < count and i < n[t] (all fp32; every pointer aligned to 16 bytes), in fp32:
//   m[i] = m[i] * beta1 + (1 - beta1) * g[i]
//   v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i]
//   p[i] = p[i] * (1 - lr * weight_decay) - lr / bc1 * (m[i] / (sqrt(v[i]) / sqrt(bc2) + eps))
// as pretrain/adamw_kernel.h's CPU pass, with bc1 = 1 - beta1^s and bc2 = 1 - beta2^s (in
// double, then rounded) for s = *step, read on the device when the kernel runs. Nothing is
// written when found_inf is not null and *found_inf != 0 (a skipped step).
struct MultiAdamW {
  float* p[kMultiAdamWMax] = {};
  const float* g[kMultiAdamWMax] = {};
  float* m[kMultiAdamWMax] = {};
  float* v[kMultiAdamWMax] = {};
  int64_t n[kMultiAdamWMax] = {};
  int count = 0;
  double lr = 0, beta1 = 0.9, beta2 = 0.999, weight_decay = 0, eps = 1e-6;
  const float* step = nullptr;
  const float* found_inf = nullptr;
};
cudaError_t multi_adamw(const MultiAdamW& a, cudaStream_t stream);

}  // namespace electra::model::cuda
