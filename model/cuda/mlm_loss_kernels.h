// CUDA kernels of the generator's masked-LM cross-entropy read straight from its bf16 or fp16
// logits (pretrain/mlm_loss.h). ATen's path on a GPU widens the [masked, vocab] logits to fp32
// (2,432 x 30,522 for ELECTRA-Base at batch 128: 297 MB), then runs log_softmax over it forward
// and backward and casts the gradient back: ~1 ms of an H200's step in five passes over fp32
// copies. Here a pass forward and one backward read the low-precision logits, in fp32
// arithmetic on their exact values, as the CPU's row loops do. Plain CUDA on raw pointers, as
// model/cuda/add_layer_norm_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// Per row r of logits ([rows, vocab], rows ld elements apart, in elem), label y = labels[r]:
//   lse[r]     = m + log(sum_j exp(x[r, j] - m)), m the row's largest value;
//   loss[r]    = lse[r] - x[r, y], 0 where y < 0 (an ignored row);
//   correct[r] = 1 where y is the row's first largest index, else 0.
// One block per row, in a fixed order: the results do not depend on scheduling.
struct MlmLossForward {
  const void* logits = nullptr;
  Elem elem = Elem::kFloat;
  int64_t rows = 0, vocab = 0, ld = 0;
  const int64_t* labels = nullptr;
  float* lse = nullptr;
  float* loss = nullptr;
  float* correct = nullptr;
};
cudaError_t mlm_loss_forward(const MlmLossForward& a, cudaStream_t stream);

// grad[r, j] = (exp(x[r, j] - lse[r]) - (j == y)) * (*grad_loss / *counted), rounded to elem;
// 0 in an ignored row. grad's rows are grad_ld elements apart (a multiple of 4 keeps its stores
// whole vectors, whatever vocab); the two scalars are read on the device when the kernel runs (a
// CUDA graph replays them).
struct MlmLossBackward {
  const void* logits = nullptr;
  Elem elem = Elem::kFloat;
  int64_t rows = 0, vocab = 0, ld = 0;
  const int64_t* labels = nullptr;
  const float* lse = nullptr;
  const float* grad_loss = nullptr;
  const float* counted = nullptr;
  void* grad = nullptr;
  int64_t grad_ld = 0;
};
cudaError_t mlm_loss_backward(const MlmLossBackward& a, cudaStream_t stream);

}  // namespace electra::model::cuda
