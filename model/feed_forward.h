// ELECTRA's feed-forward block with a GELU, linear(gelu(linear(x, W1, b1)), W2, b2), as one
// autograd node that keeps only x and the pre-activation for backward and recomputes the GELU
// there. Plain autograd keeps both the GELU's input and its output (the second product's
// input): for ELECTRA-Small at batch 128 that is two [16384, 1024] fp32 tensors per layer,
// ~1 GB in all. On the CPU, in fp32 and bf16, the bias, the GELU and in backward the GELU
// again with its derivative are single passes (model/gelu_rows.h) instead of three ATen passes
// over [tokens, intermediate] and two erf evaluations per element; on CUDA with `fused_cuda`,
// backward's GELU, its derivative and the first bias's gradient are one kernel
// (model/cuda/gelu_kernels.h); elsewhere ATen's ops.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

namespace electra::model {

// x: [..., H]; w1: [F, H]; b1: [F]; w2: [out, F]; b2: [out], or undefined for a caller that
// adds it itself (model/add_layer_norm.h); tanh_approx: HF "gelu_new" rather than "gelu" (erf).
// -> [..., out] in x's dtype. The parameters are in x's dtype (the compute dtype), or, for a bf16
// x on the CPU where bf16_linear_supports(x, w1), fp32 master parameters: then the products use
// them rounded to bf16 and their gradients are fp32 (model/bf16_linear.h).
// Differentiable in all five; without a gradient nothing is kept. fused_cuda: backward on CUDA
// runs cuda_gelu_backward where it supports the tensors (model.fused_bias_gelu). keep_act: with
// it, on CUDA, the forward's GELU output is kept for backward as well (eager autograd's memory)
// instead of written again there: one [n, F] tensor less to write in backward.
at::Tensor gelu_feed_forward(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                             const at::Tensor& w2, const at::Tensor& b2, bool tanh_approx,
                             bool fused_cuda = false, bool keep_act = false);

// Whether the encoder passes keep_act: the environment variable ELECTRA_CUDA_KEEP_GELU is "1"
// (opt-in until measured on a GPU; read once).
bool cuda_keep_gelu_enabled();

// Whether cuda_gelu_backward takes these: a build with the CUDA kernels, [n, F] CUDA tensors of
// one dtype (fp32, bf16 or fp16) on one device, F a multiple of 4.
bool cuda_gelu_backward_supports(const at::Tensor& pre, const at::Tensor& d_act);
// pre: the GELU's input [n, F]; d_act: the gradient of its output [n, F] -> {gelu(pre),
// d_act * gelu'(pre) (both [n, F], rounded as ATen's gelu and gelu_backward round them), the
// column sums of the latter [F] (the bias gradient of the product that made pre), summed in fp32
// and rounded to sums_dtype}. d_act's storage is reused for the second when it is contiguous.
// Without `with_act` the first is undefined, and not computed.
std::vector<at::Tensor> cuda_gelu_backward(const at::Tensor& pre, const at::Tensor& d_act,
                                           bool tanh_approx, bool with_act = true,
                                           at::ScalarType sums_dtype = at::kFloat);

}  // namespace electra::model
