// CUDA kernel of the feed-forward block's GELU backward (model/feed_forward.h), with the bias
// gradient of the product that made the GELU's input. ATen does this in three passes over
// [tokens, intermediate]: the GELU again (its output is the second product's input, which the
// block recomputes rather than keeps), gelu_backward, and the bias gradient's column sum.
// Plain CUDA on raw pointers, as model/cuda/add_layer_norm_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// Per element of [rows, f] (all contiguous, in elem; f a multiple of 4), in fp32 arithmetic:
//   act = gelu(pre), rounded to elem (not written when act is null: a caller that kept the
//         forward pass's);
//   d   = d * gelu'(pre), rounded to elem, in place (in: the gradient of act; out: of pre);
// the formulas and rounding of ATen's gelu and gelu_backward (erf, or tanh with tanh_approx).
// partial ([gelu_backward_blocks(rows), f] fp32) gets, per block of rows, the column sums of
// the rounded d in row order; the caller sums it over its first dimension (a fixed order).
struct GeluBackward {
  const void* pre = nullptr;
  void* d = nullptr;
  void* act = nullptr;
  Elem elem = Elem::kFloat;
  bool tanh_approx = false;
  int64_t rows = 0, f = 0;
  float* partial = nullptr;
};
int64_t gelu_backward_blocks(int64_t rows);
// The most rows one call takes.
int64_t gelu_backward_max_rows();
cudaError_t gelu_backward(const GeluBackward& a, cudaStream_t stream);

}  // namespace electra::model::cuda
