// Compiled with -ffast-math (model/CMakeLists.txt); see model/attention_rows.h. Only C
// headers: nothing inline from C++ or LibTorch may be instantiated under these flags.
#include "model/attention_rows.h"

#include <float.h>
#include <math.h>

#include "model/bf16_bits.h"
#include "model/fast_exp.h"
#include "model/keep_bits.h"

namespace electra::model::detail {

namespace {

// AVX-512, AVX2 and baseline builds, picked at load time; file-local and reached through the
// plain functions below, because clang 14 names a target_clones resolver "<name>.ifunc" and a
// call from another file does not link (as in pretrain/gumbel_scores.cpp).
__attribute__((target_clones("avx512f", "avx2", "default"))) void to_v_impl(
    const float* __restrict p, const bool* __restrict keep, float scale, bool bf16, int64_t n,
    float* __restrict out) {
  if (keep) {
    for (int64_t j = 0; j < n; ++j)
      out[j] = p[j] * scale * keep_factor(keep, j);
  } else {
    for (int64_t j = 0; j < n; ++j)
      out[j] = p[j];
  }
  if (bf16) {
    for (int64_t j = 0; j < n; ++j)
      out[j] = round_to_bf16(out[j]);
  }
}

// to_v_impl's bf16 result as bf16 bits: the pass and the narrowing in one.
__attribute__((target_clones("avx512f", "avx2", "default"))) void to_v16_impl(
    const float* __restrict p, const bool* __restrict keep, float scale, int64_t n,
    uint16_t* __restrict out) {
  if (keep) {
    for (int64_t j = 0; j < n; ++j)
      out[j] = float_to_bf16(p[j] * scale * keep_factor(keep, j));
  } else {
    for (int64_t j = 0; j < n; ++j)
      out[j] = float_to_bf16(p[j]);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_impl(
    const float* __restrict s, const float* __restrict mask, float sqrt_d, int64_t rows, int64_t l,
    float* __restrict probs, bool bf16) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* si = s + i * l;
    float* pi = probs + i * l;
    // HF's order: (bf16 products widened,) divided by sqrt(d), then the mask (0 or fp32's
    // lowest) added.
    if (bf16) {
      for (int64_t j = 0; j < l; ++j)
        pi[j] = round_to_bf16(si[j]) / sqrt_d;
    } else {
      for (int64_t j = 0; j < l; ++j)
        pi[j] = si[j] / sqrt_d;
    }
    if (mask) {
      for (int64_t j = 0; j < l; ++j)
        pi[j] += mask[j];
    }
    float m = -FLT_MAX;  // finite: -ffast-math assumes no infinities
    for (int64_t j = 0; j < l; ++j)
      m = fmaxf(m, pi[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < l; ++j) {
      pi[j] = exp_nonpositive(pi[j] - m);
      sum += pi[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < l; ++j)
      pi[j] *= inv;
  }
}

// out16 null: the result in g (rounded when bf16); else bf16, as bits into out16 (g is scratch).
__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_impl(
    float* __restrict g, const float* __restrict probs, const bool* __restrict keep, float scale,
    float sqrt_d, bool bf16, int64_t rows, int64_t l, uint16_t* __restrict out16) {
  for (int64_t i = 0; i < rows; ++i) {
    float* gi = g + i * l;
    const float* pi = probs + i * l;
    if (bf16) {
      for (int64_t j = 0; j < l; ++j)
        gi[j] = round_to_bf16(gi[j]);
    }
    if (keep) {
      const bool* ki = keep + i * l;
      for (int64_t j = 0; j < l; ++j)
        gi[j] = gi[j] * scale * keep_factor(ki, j);
    }
    float dot = 0.0f;
    for (int64_t j = 0; j < l; ++j)
      dot += gi[j] * pi[j];
    if (out16) {
      uint16_t* oi = out16 + i * l;
      for (int64_t j = 0; j < l; ++j)
        oi[j] = float_to_bf16(pi[j] * (gi[j] - dot) / sqrt_d);
      continue;
    }
    for (int64_t j = 0; j < l; ++j)
      gi[j] = pi[j] * (gi[j] - dot) / sqrt_d;
    if (bf16) {
      for (int64_t j = 0; j < l; ++j)
        gi[j] = round_to_bf16(gi[j]);
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void widen_impl(
    const uint16_t* __restrict in, int64_t n, float* __restrict out) {
  for (int64_t j = 0; j < n; ++j)
    out[j] = bf16_to_float(in[j]);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void narrow_impl(
    const float* __restrict in, int64_t n, uint16_t* __restrict out) {
  for (int64_t j = 0; j < n; ++j)
    out[j] = float_to_bf16(in[j]);
}

}  // namespace

void widen_bf16(const uint16_t* in, int64_t n, float* out) {
  widen_impl(in, n, out);
}

void narrow_bf16(const float* in, int64_t n, uint16_t* out) {
  narrow_impl(in, n, out);
}

void probs_to_v(const float* p, const bool* keep, float scale, bool bf16, int64_t n, float* out) {
  to_v_impl(p, keep, scale, bf16, n, out);
}

void softmax_rows(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                  float* probs, const bool* keep, float scale, bool bf16, float* to_v) {
  forward_impl(s, mask, sqrt_d, rows, l, probs, bf16);
  if (keep || bf16) to_v_impl(probs, keep, scale, bf16, rows * l, to_v);
}

void softmax_rows_backward(float* g, const float* probs, const bool* keep, float scale,
                           float sqrt_d, bool bf16, int64_t rows, int64_t l) {
  backward_impl(g, probs, keep, scale, sqrt_d, bf16, rows, l, nullptr);
}

void softmax_rows_bf16(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                       float* probs, const bool* keep, float scale, uint16_t* to_v16) {
  forward_impl(s, mask, sqrt_d, rows, l, probs, /*bf16=*/true);
  to_v16_impl(probs, keep, scale, rows * l, to_v16);
}

void softmax_rows_backward_bf16(float* g, const float* probs, const bool* keep, float scale,
                                float sqrt_d, int64_t rows, int64_t l, uint16_t* g16) {
  backward_impl(g, probs, keep, scale, sqrt_d, /*bf16=*/true, rows, l, g16);
}

}  // namespace electra::model::detail
