// A linear layer computed in bf16 on the CPU with its parameters kept in fp32, as one autograd
// node. The eager form, at::linear(x, w.to(bf16), b.to(bf16)), has ATen write the weight's
// gradient as a bf16 product and cast it to fp32 (ToCopyBackward, a pass over every weight
// each step), and sum the bias's gradient in bf16 before the same cast. Here the weight's
// gradient comes straight out of oneDNN's bf16 GEMM with fp32 output (blas::gemm_bf16) and the
// bias's is summed in fp32: fewer passes, and neither gradient is rounded to bf16 on the way.
#pragma once

#include <ATen/Tensor.h>

namespace electra::model {

// Whether bf16_linear takes these: CPU tensors, x bf16, w fp32, and oneDNN's bf16 GEMM in the
// process (LibTorch builds without a separate libdnnl keep the eager form).
bool bf16_linear_supports(const at::Tensor& x, const at::Tensor& w);

// x [..., in] w^T (+ b, unless undefined or empty) -> [..., out], all in one dtype: ATen's addmm
// on the flattened rows, which adds the bias inside the product's single rounding.
at::Tensor rows_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// x: [..., in] bf16; w: [out, in] fp32; b: [out] fp32, or undefined -> [..., out] bf16, the
// values of at::linear(x, w.to(bf16), b.to(bf16)): the same product, rounded once with the
// bias. Differentiable in all three; the gradients of w and b are fp32 sums of the bf16
// products that were not rounded to bf16.
at::Tensor bf16_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// gy: [n, out] bf16, x: [n, in] bf16 -> gy^T x, [out, in] fp32 accumulated in fp32: a weight's
// gradient. oneDNN's bf16 GEMM for CPU tensors where the process has it, else ATen's bf16
// product cast up.
at::Tensor bf16_weight_grad(const at::Tensor& gy, const at::Tensor& x);

// gy: [n, out] bf16 -> its column sums, [out] fp32 accumulated in fp32: a bias's gradient.
at::Tensor bf16_bias_grad(const at::Tensor& gy);

}  // namespace electra::model
