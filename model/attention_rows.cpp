// Compiled with -ffast-math (model/CMakeLists.txt); see model/attention_rows.h. Only C
// headers: nothing inline from C++ or LibTorch may be instantiated under these flags.
#include "model/attention_rows.h"

#include <float.h>
#include <math.h>

namespace electra::model::detail {

namespace {

// AVX-512, AVX2 and baseline builds, picked at load time; file-local and reached through the
// plain functions below, because clang 14 names a target_clones resolver "<name>.ifunc" and a
// call from another file does not link (as in pretrain/gumbel_scores.cpp).
__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_impl(
    const float* __restrict s, const float* __restrict mask, float sqrt_d, int64_t rows, int64_t l,
    float* __restrict probs, const bool* __restrict keep, float scale, float* __restrict dropped) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* si = s + i * l;
    float* pi = probs + i * l;
    // HF's order: divide by sqrt(d), then add the mask (0 or fp32's lowest).
    float m = -FLT_MAX;  // finite: -ffast-math assumes no infinities
    if (mask) {
      for (int64_t j = 0; j < l; ++j) {
        pi[j] = si[j] / sqrt_d + mask[j];
        m = fmaxf(m, pi[j]);
      }
    } else {
      for (int64_t j = 0; j < l; ++j) {
        pi[j] = si[j] / sqrt_d;
        m = fmaxf(m, pi[j]);
      }
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < l; ++j) {
      pi[j] = expf(pi[j] - m);
      sum += pi[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < l; ++j)
      pi[j] *= inv;
    if (keep) {
      const bool* ki = keep + i * l;
      float* di = dropped + i * l;
      for (int64_t j = 0; j < l; ++j)
        di[j] = pi[j] * scale * static_cast<float>(ki[j]);
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_impl(
    float* __restrict g, const float* __restrict probs, const bool* __restrict keep, float scale,
    float sqrt_d, int64_t rows, int64_t l) {
  for (int64_t i = 0; i < rows; ++i) {
    float* gi = g + i * l;
    const float* pi = probs + i * l;
    if (keep) {
      const bool* ki = keep + i * l;
      for (int64_t j = 0; j < l; ++j)
        gi[j] = gi[j] * scale * static_cast<float>(ki[j]);
    }
    float dot = 0.0f;
    for (int64_t j = 0; j < l; ++j)
      dot += gi[j] * pi[j];
    for (int64_t j = 0; j < l; ++j)
      gi[j] = pi[j] * (gi[j] - dot) / sqrt_d;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void dropped_impl(
    const float* __restrict p, const bool* __restrict keep, float scale, int64_t n,
    float* __restrict out) {
  for (int64_t j = 0; j < n; ++j)
    out[j] = p[j] * scale * static_cast<float>(keep[j]);
}

}  // namespace

void dropped_probs(const float* p, const bool* keep, float scale, int64_t n, float* out) {
  dropped_impl(p, keep, scale, n, out);
}

void softmax_rows(const float* s, const float* mask, float sqrt_d, int64_t rows, int64_t l,
                  float* probs, const bool* keep, float scale, float* dropped) {
  forward_impl(s, mask, sqrt_d, rows, l, probs, keep, scale, dropped);
}

void softmax_rows_backward(float* g, const float* probs, const bool* keep, float scale,
                           float sqrt_d, int64_t rows, int64_t l) {
  backward_impl(g, probs, keep, scale, sqrt_d, rows, l);
}

}  // namespace electra::model::detail
