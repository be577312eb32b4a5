// The element-wise halves of model/feed_forward.cpp's GELU feed-forward block, in fp32 or on
// bf16 bits (each array is either fp32, the `*32` pointer, or bf16, the `*16` one; the other is
// null). Compiled with -ffast-math for glibc's vector expf and tanhf (model/CMakeLists.txt), hence
// C types only. bf16 results are rounded to the nearest bf16 (ties to even), as ATen's
// bf16 GELU rounds its fp32 result.
#pragma once

#include <stdint.h>

namespace electra::model::detail {

// Over rows x f elements: act = gelu(pre + bias[column]) (bias null: gelu(pre); in bf16 the
// sum is rounded, as a bf16 add would). act may be pre itself (evaluation: nothing kept).
// tanh_approx: HF "gelu_new" (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))), else erf GELU.
void bias_gelu(const float* pre32, const uint16_t* pre16, const float* bias, int64_t rows,
               int64_t f, bool tanh_approx, float* act32, uint16_t* act16);

// The same elements, for backward: act = gelu(pre + bias) again (for the second product's
// weight gradient) and, in place, d = d * gelu'(pre + bias) (the gradient of the GELU's input
// from that of act).
void gelu_backward(const float* pre32, const uint16_t* pre16, const float* bias, int64_t rows,
                   int64_t f, bool tanh_approx, float* act32, uint16_t* act16, float* d32,
                   uint16_t* d16);

}  // namespace electra::model::detail
