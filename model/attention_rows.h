// The element-wise halves of model/cpu_attention.cpp's fused attention, on one [rows, l] block
// of one (sequence, head) in fp32. Compiled with -ffast-math for glibc's vector expf (see
// model/CMakeLists.txt), so they take only C types.
//
// `bf16`: the model computes in bf16, and these round to bf16 (nearest-even) wherever HF's
// eager attention under bf16 holds a bf16 tensor: the products q k^T and the gradient of the
// dropped probabilities on the way in; the probabilities that meet v and the gradient of the
// scores on the way out. Everything between stays fp32, as there.
#pragma once

#include <stdint.h>

namespace electra::model::detail {

// Forward, per row i of `s` ([rows, l], the products q k^T):
//   p  = softmax(s[i] / sqrt_d + mask)       -> probs[i]   (mask: [l] additive, or null)
//   pv = p * scale * keep[i] (keep null: p)  -> to_v[i]    (rounded when bf16)
// to_v may be null when neither keep nor bf16 (the caller then multiplies v by probs).
void softmax_rows(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                  float* probs, const bool* keep, float scale, bool bf16, float* to_v);

// Backward, in place on g ([rows, l]; on entry the gradient of pv):
//   gp = g * scale * keep (keep null: g)
//   g  = p * (gp - sum_j gp_j p_j) / sqrt_d    (the gradient of s)
void softmax_rows_backward(float* g, const float* probs, const bool* keep, float scale,
                           float sqrt_d, bool bf16, int64_t rows, int64_t l);

// softmax_rows and softmax_rows_backward in bf16, their bf16 results written as bf16 bits: to_v16
// [rows, l] (pv, for a bf16 GEMM with v), and g16 [rows, l] (the scores' gradient; g is then
// left as scratch). The same values as the fp32 versions' rounded ones, one pass fewer each.
void softmax_rows_bf16(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                       float* probs, const bool* keep, float scale, uint16_t* to_v16);
void softmax_rows_backward_bf16(float* g, const float* probs, const bool* keep, float scale,
                                float sqrt_d, int64_t rows, int64_t l, uint16_t* g16);

// out = p * scale * keep over n elements (keep null: p), rounded when bf16: pv again, for
// backward.
void probs_to_v(const float* p, const bool* keep, float scale, bool bf16, int64_t n, float* out);

// bf16 (raw bits) <-> fp32 over n elements; narrowing rounds to the nearest (ties to even), as
// c10::BFloat16 does for finite values, so values already on the bf16 grid pass unchanged.
void widen_bf16(const uint16_t* in, int64_t n, float* out);
void narrow_bf16(const float* in, int64_t n, uint16_t* out);

}  // namespace electra::model::detail
