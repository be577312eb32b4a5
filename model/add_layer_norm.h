// LayerNorm(dropout(y) + residual) in one pass over the rows, for the CPU: the end of every
// attention and feed-forward block. The eager path reads and writes the [tokens, hidden]
// activations five times in fp32 (dropout, the cast of a bf16 y to fp32, the add, LayerNorm's
// moments and its output) and as often again in backward; this does one pass each way.
// Numerically it is the eager path's order: dropout in y's dtype with model::dropout's mask
// (the same generator draw), the add and LayerNorm in fp32, bf16 gradients rounded where the
// eager path's casts round them (tests/model/add_layer_norm_test.cpp).
#pragma once

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <vector>

namespace electra::model {

// Whether fused_add_layer_norm takes these: CPU tensors, y fp32 or bf16, the residual fp32,
// the same shape.
bool fused_add_layer_norm_supports(const at::Tensor& y, const at::Tensor& residual);

// y: [..., h] fp32 or bf16 (a dense layer's output); residual: [..., h] fp32; weight, bias:
// [h] fp32 (LayerNorm's gamma and beta); dropout_p: on y (0 in evaluation); y_bias: the dense
// layer's bias [h] fp32 when its product left it out (ATen's addmm first copies the broadcast
// bias into the product's output, a pass of its own), else undefined. With a bf16 y and a
// y_bias, y + y_bias and the dropout are computed in fp32 (addmm would round product + bias
// once in bf16; this rounds only the product): within a bf16 step of the eager path.
// -> LayerNorm(dropout(y + y_bias) + residual), [..., h] fp32. Differentiable in y, y_bias,
// residual, weight and bias; the parameter gradients are summed in a fixed order, independent
// of the thread count.
at::Tensor fused_add_layer_norm(const at::Tensor& y, const at::Tensor& residual,
                                const at::Tensor& weight, const at::Tensor& bias, double eps,
                                double dropout_p, const at::Tensor& y_bias = {});
// The same, and with low_copy and a bf16 y also the output rounded to bf16, for the next
// block's products: {out} or {out, low}. The copy's gradient is added to the output's inside
// the kernel, sparing the cast in forward, its gradient's cast back and autograd's add of the
// two gradients. The same values and gradients as casting the output.
std::vector<at::Tensor> fused_add_layer_norm_hidden(const at::Tensor& y, const at::Tensor& residual,
                                                    const at::Tensor& weight,
                                                    const at::Tensor& bias, double eps,
                                                    double dropout_p, const at::Tensor& y_bias,
                                                    bool low_copy);

// The CUDA version (model/cuda/add_layer_norm_kernels.h): one kernel forward, one backward.
// Whether this build has the kernels (CMake ELECTRA_CUDA_KERNELS, with a CUDA LibTorch).
bool cuda_add_layer_norm_built();
// Whether a model with set_fused_layer_norm(enabled) runs the kernel on `device` (for logs and
// reports).
bool cuda_add_layer_norm_runs(bool enabled, const at::Device& device);
// Whether cuda_add_layer_norm takes these: built, CUDA tensors on one device, y fp32, bf16 or
// fp16, the residual fp32, the same shape, hidden size a multiple of 4 and at most 1024.
bool cuda_add_layer_norm_supports(const at::Tensor& y, const at::Tensor& residual);

// y: [..., h]; residual: [..., h] fp32; weight, bias: [h] fp32 -> {LayerNorm(dropout(y) +
// residual) [..., h] fp32, and with low_copy (y not fp32) the same rounded to y's dtype, for
// the next block's products}. Numerically the eager order (dropout in y's dtype, the add and
// LayerNorm in fp32, the gradients rounded where the eager casts round them); the dropout mask
// is cuda_dropout_keep_mask(draw_seed(the default CPU generator), ...), drawn anew each call
// with dropout_p > 0, so it differs from at::dropout's for the same seed. Differentiable in y,
// residual, weight and bias (the parameter gradients in a fixed order).
std::vector<at::Tensor> cuda_add_layer_norm(const at::Tensor& y, const at::Tensor& residual,
                                            const at::Tensor& weight, const at::Tensor& bias,
                                            double eps, double dropout_p, bool low_copy);

// The keep mask ([rows, h] bool, on the CPU) of a cuda_add_layer_norm call whose seed was
// `seed`, for tests and debugging.
at::Tensor cuda_dropout_keep_mask(uint64_t seed, int64_t rows, int64_t h, double p);

}  // namespace electra::model
