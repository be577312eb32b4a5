// CUDA column sums: the bias gradient of a product, sum over rows of its output's gradient
// [rows, cols], and the final step of the kernels that leave per-block partial sums
// (model/cuda/add_layer_norm_kernels.h, model/cuda/gelu_kernels.h). ATen's column reduction
// of a bf16 [16384, 768] gradient took ~30 us on an H100 (25 MB: ~8 us of bandwidth); the 75
// such sums of an ELECTRA-Base step were 2.3 ms of its 42 ms on the device. Plain CUDA on raw
// pointers, as model/cuda/add_layer_norm_kernels.h; fp32 sums in a fixed order, so the result
// does not depend on scheduling.
#pragma once

#include <cuda_runtime_api.h>

#include <stdint.h>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// out[c] = sum over r of in[r, c] (in: [rows, cols] contiguous, in elem, cols a multiple of 4;
// out: [cols] in out_elem, the fp32 sum rounded to it once, as a cast of the fp32 sums would
// round), in two launches: per block of rows into scratch ([column_sum_blocks(rows), cols] fp32),
// then over the blocks in block order.
struct ColumnSums {
  const void* in = nullptr;
  Elem elem = Elem::kFloat;
  int64_t rows = 0, cols = 0;
  float* scratch = nullptr;
  void* out = nullptr;
  Elem out_elem = Elem::kFloat;
};
int64_t column_sum_blocks(int64_t rows);
// The most rows one call takes.
int64_t column_sum_max_rows();
cudaError_t column_sums(const ColumnSums& a, cudaStream_t stream);

// out[c] = sum over r of in[r, c] for fp32 [rows, cols] (any cols), rows in order, rounded to
// out_elem: the second launch above alone, for the partial sums other kernels leave.
cudaError_t sum_rows(const float* in, int64_t rows, int64_t cols, void* out, Elem out_elem,
                     cudaStream_t stream);

}  // namespace electra::model::cuda
