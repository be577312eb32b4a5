// Host-side helpers of the wrappers over our CUDA kernels (model/add_layer_norm_cuda.cpp,
// model/feed_forward_cuda.cpp, ...): which dtypes the kernels take and the kernels' element type
// of a tensor dtype, and one error for a failed launch. Only for builds with ELECTRA_CUDA_KERNELS.
#pragma once

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

// A launch's error as an exception naming the kernel.
inline void check_launch(cudaError_t rc, const char* what) {
  ELECTRA_CHECK(rc == cudaSuccess, what, " failed: ", cudaGetErrorString(rc));
}

}  // namespace electra::model::cuda
