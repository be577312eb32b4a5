// Host-side helpers of the wrappers over our CUDA kernels (model/add_layer_norm_cuda.cpp,
// model/feed_forward_cuda.cpp, ...): which dtypes the kernels take and the kernels' element type
// of a tensor dtype, and one error for a failed launch. Only for builds with ELECTRA_CUDA_KERNELS.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "common/error.h"
#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda {

// bf16 and fp16 as themselves, anything else as fp32 (the callers check the dtype first).
inline Elem elem_of(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16:
      return Elem::kBFloat16;
    case at::kHalf:
      return Elem::kHalf;
    default:
      return Elem::kFloat;
  }
}

// Whether our kernels take tensors of dtype t: fp32, bf16 or fp16 (elem_of's three).
inline bool has_elem(at::ScalarType t) {
  return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf;
}

// Whether a kernel that takes rows `ld` elements apart reads x ([rows, cols]) in place: adjacent
// elements, rows at least cols apart (the generator's padded head's [n, vocab] view of
// [n, vocab rounded up]).
inline bool rows_in_place(const at::Tensor& x) {
  return x.dim() == 2 && x.stride(1) == 1 && x.stride(0) >= x.size(1);
}

// A launch's error as an exception naming the kernel.
inline void check_launch(cudaError_t rc, const char* what) {
  ELECTRA_CHECK(rc == cudaSuccess, what, " failed: ", cudaGetErrorString(rc));
}

}  // namespace electra::model::cuda
