// The element-wise halves of model/cpu_attention.cpp's fused attention, on one [rows, l] block
// of one (sequence, head) in fp32. Compiled with -ffast-math for glibc's vector expf (see
// model/CMakeLists.txt), so they take only C types.
#pragma once

#include <stdint.h>

namespace electra::model::detail {

// Forward, per row i of `s` ([rows, l], the products q k^T):
//   p = softmax(s[i] / sqrt_d + mask)      -> probs[i]   (mask: [l] additive, or null)
//   pd = p * scale * keep[i]               -> dropped[i] (skipped when keep is null)
void softmax_rows(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                  float* probs, const bool* keep, float scale, float* dropped);

// Backward, in place on g ([rows, l]; on entry the gradient of the dropped probabilities):
//   gp = g * scale * keep (keep null: g)
//   g  = p * (gp - sum_j gp_j p_j) / sqrt_d    (the gradient of s)
void softmax_rows_backward(float* g, const float* probs, const bool* keep, float scale,
                           float sqrt_d, int64_t rows, int64_t l);

// out = p * scale * keep over n elements (the dropped probabilities again, for backward).
void dropped_probs(const float* p, const bool* keep, float scale, int64_t n, float* out);

}  // namespace electra::model::detail
