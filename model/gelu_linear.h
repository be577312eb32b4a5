// linear(gelu(pre), W, b) that keeps only `pre` for backward and recomputes the GELU there.
// Plain autograd keeps both gelu's input and its output (the second linear's input): for
// ELECTRA-Small at batch 128 that is two [16384, 1024] fp32 tensors per layer, ~1 GB in all.
#pragma once

#include <ATen/Tensor.h>

#include <string>

namespace electra::model {

// pre: [..., F]; weight: [out, F]; bias: [out] or undefined; approximate: "none" (erf GELU,
// HF "gelu") or "tanh" (HF "gelu_new"). -> [..., out], in pre's dtype.
at::Tensor gelu_linear(const at::Tensor& pre, const at::Tensor& weight, const at::Tensor& bias,
                       const std::string& approximate);

}  // namespace electra::model
