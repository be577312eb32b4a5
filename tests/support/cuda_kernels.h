// Shared by the tests of our CUDA kernels (tests/gpu): the skip for machines without a GPU or
// builds without the kernels, the relative error the comparisons bound, and its unit.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "model/add_layer_norm.h"

// In a TEST body: skip without a visible CUDA device or without ELECTRA_CUDA_KERNELS.
#define ELECTRA_SKIP_WITHOUT_CUDA_KERNELS()                                               \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch"; \
  if (!::electra::model::cuda_add_layer_norm_built())                                     \
  GTEST_SKIP() << "built without ELECTRA_CUDA_KERNELS"

namespace electra::testing {

// max |a - b| / (|b| + 1) over the elements, in fp32.
inline double rel_err(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kFloat), y = b.to(at::kFloat);
  return ((x - y).abs() / (y.abs() + 1)).max().item<double>();
}

// One unit in the last place of dt, relative: what one rounding the other way can move.
inline double unit(at::ScalarType dt) {
  return dt == at::kFloat ? 1e-6 : (dt == at::kBFloat16 ? 1.0 / 128 : 1.0 / 1024);
}

}  // namespace electra::testing
