// CUDA Gumbel-max sampling in one pass: per row of logits, argmax(l / T + g) with
// g = -log(-log(u + 1e-9) + 1e-9) (the official ELECTRA code's guards), u uniform in [0, 1) on
// a 2^-24 grid. ATen's path writes the [rows, vocab] fp32 noise and reads and writes it again
// for each of its ~8 element-wise operators before the argmax: about 1.5 ms of an ELECTRA-Base
// step (batch 128, 2,458 masked rows x 30,522 tokens) on an H100, for what one read of the
// logits does here. Plain CUDA on raw pointers, as model/cuda/add_layer_norm_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// u of element (r, j) comes from the top 24 bits of splitmix64 for the counter
// seed + (r * vocab + j + 1) * gamma (model/cuda/dropout_hash.h's hash_draw), the seed read from
// seed_at on the device when the kernel runs (drawn there by the caller from its generator, so
// a CUDA graph replays with a new one). out[r] = the first j of the row's largest score.
struct GumbelArgmax {
  const void* logits = nullptr;  // [rows, vocab], rows ld elements apart, in elem
  Elem elem = Elem::kFloat;
  int64_t rows = 0, vocab = 0;
  int64_t ld = 0;            // 0: vocab (contiguous rows)
  float temperature = 1.0f;  // > 0
  const int64_t* seed_at = nullptr;
  int64_t* out = nullptr;  // [rows]
};
cudaError_t gumbel_argmax(const GumbelArgmax& a, cudaStream_t stream);

}  // namespace electra::model::cuda
