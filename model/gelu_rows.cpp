// Compiled with -ffast-math (model/CMakeLists.txt); see model/gelu_rows.h. Only C headers.
#include "model/gelu_rows.h"

#include <math.h>

#include "model/bf16_bits.h"
#include "model/fast_exp.h"

namespace electra::model::detail {

namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;     // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143268f;   // 1 / sqrt(2 pi)
constexpr float kSqrt2OverPi = 0.79788456080286536f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;

// erf(x / sqrt(2)) given e = exp(-x^2 / 2), by Abramowitz & Stegun 7.1.26 (absolute error
// below 1.5e-7, the formula ATen's own vectorised erf uses): only multiplies, adds, one
// division and the exponential, which the backward pass needs anyway for the normal density.
// glibc's vector erff measured 2x slower than its expf here.
inline float erf_scaled(float x, float e) {
  const float ax = fabsf(x) * kSqrtHalf;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  const float poly =
      ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t +
       0.254829592f) *
      t;
  return copysignf(1.0f - poly * e, x);
}

inline float gelu(float x, bool tanh_approx) {
  if (tanh_approx) return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kKappa * x * x * x)));
  return 0.5f * x * (1.0f + erf_scaled(x, exp_nonpositive(-0.5f * x * x)));
}

// gelu(x) -> act, and d gelu / dx (the formulas ATen's gelu_backward uses) -> the return value.
inline float gelu_and_grad(float x, bool tanh_approx, float* act) {
  if (tanh_approx) {
    const float t = tanhf(kSqrt2OverPi * (x + kKappa * x * x * x));
    *act = 0.5f * x * (1.0f + t);
    return 0.5f * (1.0f + t) +
           0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kKappa * x * x);
  }
  const float e = exp_nonpositive(-0.5f * x * x);
  const float cdf = 0.5f * (1.0f + erf_scaled(x, e));
  *act = x * cdf;
  return cdf + x * kInvSqrt2Pi * e;
}

// One loop per (dtype, variant) combination, so that each vectorises (the erf variant with
// model/fast_exp.h inline, the tanh one with a call to glibc's vector tanhf). The loops are
// templates inlined into the four target_clones functions further down (clang rejects target_clones
// on a template); as model/attention_rows.cpp, the clones are reached only from below.
template <bool kTanh>
inline __attribute__((always_inline)) void bias_gelu_f32_loop(const float* pre,
                                                              const float* __restrict bias,
                                                              int64_t rows, int64_t f, float* act) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* p = pre + i * f;
    float* a = act + i * f;
    for (int64_t j = 0; j < f; ++j)
      a[j] = gelu(bias ? p[j] + bias[j] : p[j], kTanh);
  }
}

// bf16 goes through fp32 chunks on the stack: a loop that mixed the bit conversions with a vector
// math call did not vectorise (measured 75 ms for [4096, 1024] against 4 ms in fp32, with
// glibc's expf then; the tanh variant still calls glibc's tanhf).
constexpr int64_t kChunk = 256;

// x[j] = pre[j] (+ bias[j], rounded as a bf16 add) over n <= kChunk elements, widened.
inline void widen_input(const uint16_t* __restrict pre, const float* __restrict bias, int64_t n,
                        float* __restrict x) {
  for (int64_t j = 0; j < n; ++j)
    x[j] = bf16_to_float(pre[j]);
  if (bias) {
    for (int64_t j = 0; j < n; ++j)
      x[j] = round_to_bf16(x[j] + bias[j]);
  }
}

template <bool kTanh>
inline __attribute__((always_inline)) void bias_gelu_bf16_loop(const uint16_t* pre,
                                                               const float* __restrict bias,
                                                               int64_t rows, int64_t f,
                                                               uint16_t* act) {
  float x[kChunk];
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < f; c += kChunk) {
      const int64_t n = f - c < kChunk ? f - c : kChunk, o = i * f + c;
      widen_input(pre + o, bias ? bias + c : nullptr, n, x);
      for (int64_t j = 0; j < n; ++j)
        x[j] = gelu(x[j], kTanh);
      for (int64_t j = 0; j < n; ++j)
        act[o + j] = float_to_bf16(x[j]);
    }
  }
}

template <bool kTanh>
inline __attribute__((always_inline)) void backward_f32_loop(const float* __restrict pre,
                                                             const float* __restrict bias,
                                                             int64_t rows, int64_t f,
                                                             float* __restrict act,
                                                             float* __restrict d) {
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t o = i * f;
    for (int64_t j = 0; j < f; ++j) {
      float a;
      d[o + j] *= gelu_and_grad(bias ? pre[o + j] + bias[j] : pre[o + j], kTanh, &a);
      act[o + j] = a;
    }
  }
}

template <bool kTanh>
inline __attribute__((always_inline)) void backward_bf16_loop(const uint16_t* __restrict pre,
                                                              const float* __restrict bias,
                                                              int64_t rows, int64_t f,
                                                              uint16_t* __restrict act,
                                                              uint16_t* __restrict d) {
  float x[kChunk], a[kChunk], g[kChunk];
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < f; c += kChunk) {
      const int64_t n = f - c < kChunk ? f - c : kChunk, o = i * f + c;
      widen_input(pre + o, bias ? bias + c : nullptr, n, x);
      for (int64_t j = 0; j < n; ++j)
        g[j] = bf16_to_float(d[o + j]);
      for (int64_t j = 0; j < n; ++j)
        g[j] *= gelu_and_grad(x[j], kTanh, &a[j]);
      for (int64_t j = 0; j < n; ++j) {
        d[o + j] = float_to_bf16(g[j]);
        act[o + j] = float_to_bf16(a[j]);
      }
    }
  }
}

// Each clone inlines both variants of its loop; `tanh` picks one per call.
__attribute__((target_clones("avx512f", "avx2", "default"))) void bias_gelu_f32(
    bool tanh, const float* pre, const float* __restrict bias, int64_t rows, int64_t f,
    float* act) {
  tanh ? bias_gelu_f32_loop<true>(pre, bias, rows, f, act)
       : bias_gelu_f32_loop<false>(pre, bias, rows, f, act);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void bias_gelu_bf16(
    bool tanh, const uint16_t* pre, const float* __restrict bias, int64_t rows, int64_t f,
    uint16_t* act) {
  tanh ? bias_gelu_bf16_loop<true>(pre, bias, rows, f, act)
       : bias_gelu_bf16_loop<false>(pre, bias, rows, f, act);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_f32(
    bool tanh, const float* __restrict pre, const float* __restrict bias, int64_t rows, int64_t f,
    float* __restrict act, float* __restrict d) {
  tanh ? backward_f32_loop<true>(pre, bias, rows, f, act, d)
       : backward_f32_loop<false>(pre, bias, rows, f, act, d);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_bf16(
    bool tanh, const uint16_t* __restrict pre, const float* __restrict bias, int64_t rows,
    int64_t f, uint16_t* __restrict act, uint16_t* __restrict d) {
  tanh ? backward_bf16_loop<true>(pre, bias, rows, f, act, d)
       : backward_bf16_loop<false>(pre, bias, rows, f, act, d);
}

}  // namespace

void bias_gelu(const float* pre32, const uint16_t* pre16, const float* bias, int64_t rows,
               int64_t f, bool tanh_approx, float* act32, uint16_t* act16) {
  if (pre32) {
    bias_gelu_f32(tanh_approx, pre32, bias, rows, f, act32);
  } else {
    bias_gelu_bf16(tanh_approx, pre16, bias, rows, f, act16);
  }
}

void gelu_backward(const float* pre32, const uint16_t* pre16, const float* bias, int64_t rows,
                   int64_t f, bool tanh_approx, float* act32, uint16_t* act16, float* d32,
                   uint16_t* d16) {
  if (pre32) {
    backward_f32(tanh_approx, pre32, bias, rows, f, act32, d32);
  } else {
    backward_bf16(tanh_approx, pre16, bias, rows, f, act16, d16);
  }
}

}  // namespace electra::model::detail
