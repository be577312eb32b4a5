// The row loops of model/add_layer_norm.cpp, on a block of rows of width h in fp32. Compiled
// with -ffast-math so that the row sums vectorise (model/CMakeLists.txt), hence C types only.
// y is given either as fp32 (y32) or as bf16 bits (y16, the other null); with bf16 every value
// is rounded where the eager bf16 path holds a bf16 tensor.
#pragma once

#include <stdint.h>

namespace electra::model::detail {

// Per row: t = (y + ybias) * scale * keep (ybias null for none; keep null: no dropout; with
// y16 and no ybias rounded to bf16 where the eager bf16 dropout rounds, with y16 and ybias in
// fp32 from the cast of y on), x = t + r, out = (x - mean) * rstd * gamma + beta with
// the row's mean and rstd = 1 / sqrt(var + eps) (biased variance). x, mean and rstd are
// written for backward; out16 (null for none): out rounded to bf16.
void add_layer_norm_rows(const float* y32, const float* ybias, const uint16_t* y16,
                         const bool* keep, float scale, const float* r, const float* gamma,
                         const float* beta, float eps, int64_t rows, int64_t h, float* x,
                         float* mean, float* rstd, float* out, uint16_t* out16);

// Per row, from g = g32 + g16 (the gradients of out and of its bf16 copy; null for a zero
// gradient): dx, the gradient of x (and of the residual r); dy,
// that of y: dx * scale * keep, in bf16 (dy16, after rounding dx to bf16 as the cast back
// does; with dybias: dx * scale * keep rounded once) or fp32 (dy32). dgamma, dbeta and (when
// not null) dybias ([h], the sum of dy before any rounding) are accumulated over the rows, in
// row order.
void add_layer_norm_rows_backward(const float* g32, const uint16_t* g16, const float* x,
                                  const float* mean, const float* rstd, const float* gamma,
                                  const bool* keep, float scale, int64_t rows, int64_t h, float* dx,
                                  float* dy32, uint16_t* dy16, float* dgamma, float* dbeta,
                                  float* dybias);

}  // namespace electra::model::detail
