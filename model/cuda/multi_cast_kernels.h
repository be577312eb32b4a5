// CUDA: many tensors cast between fp32 and bf16/fp16 in one launch. A training step in bf16
// casts each fp32 weight to bf16 for its product and each weight gradient back: ~430 small
// kernels a Base step, 1.5 ms of an H200's 35 ms, most of it per-kernel cost rather than bytes
// (0.7 GB each way, ~0.15 ms). model/param_cast.h uses this for both directions. Plain CUDA on
// raw pointers, as model/cuda/add_layer_norm_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// Up to kMultiCastMax pairs per launch (the table travels in the kernel's parameters).
constexpr int kMultiCastMax = 64;

// dst[t][i] = src[t][i] converted (round to nearest even), i < n[t], t < count; one of the two
// element types is fp32. Every src and dst is aligned to 16 bytes.
struct MultiCast {
  const void* src[kMultiCastMax] = {};
  void* dst[kMultiCastMax] = {};
  int64_t n[kMultiCastMax] = {};
  int count = 0;
  Elem src_elem = Elem::kFloat, dst_elem = Elem::kBFloat16;
};
cudaError_t multi_cast(const MultiCast& a, cudaStream_t stream);

}  // namespace electra::model::cuda
