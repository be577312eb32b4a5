// LayerNorm(dropout(y) + residual) in one pass over the rows, for the CPU: the end of every
// attention and feed-forward block. The eager path reads and writes the [tokens, hidden]
// activations five times in fp32 (dropout, the cast of a bf16 y to fp32, the add, LayerNorm's
// moments and its output) and as often again in backward; this does one pass each way.
// Numerically it is the eager path's order: dropout in y's dtype with model::dropout's mask
// (the same generator draw), the add and LayerNorm in fp32, bf16 gradients rounded where the
// eager path's casts round them (tests/model/add_layer_norm_test.cpp).
#pragma once

#include <ATen/Tensor.h>

namespace electra::model {

// Whether fused_add_layer_norm takes these: CPU tensors, y fp32 or bf16, the residual fp32,
// the same shape.
bool fused_add_layer_norm_supports(const at::Tensor& y, const at::Tensor& residual);

// y: [..., h] fp32 or bf16 (a dense layer's output); residual: [..., h] fp32; weight, bias:
// [h] fp32 (LayerNorm's gamma and beta); dropout_p: on y (0 in evaluation); y_bias: the dense
// layer's bias [h] when its product left it out (fp32 only: ATen's addmm first copies the
// broadcast bias into the product's output, a pass of its own), else undefined.
// -> LayerNorm(dropout(y + y_bias) + residual), [..., h] fp32. Differentiable in y, y_bias,
// residual, weight and bias; the parameter gradients are summed in a fixed order, independent
// of the thread count.
at::Tensor fused_add_layer_norm(const at::Tensor& y, const at::Tensor& residual,
                                const at::Tensor& weight, const at::Tensor& bias, double eps,
                                double dropout_p, const at::Tensor& y_bias = {});

}  // namespace electra::model
