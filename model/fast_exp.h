// exp(y) for y <= 0 in a few vectorisable multiplies and adds, for the -ffast-math row kernels
// (softmax rows, GELU rows, the MLM loss's log-sum-exp). Only C headers, static functions: the
// files that include it are compiled with -ffast-math and must share no inline code with the
// others (see model/CMakeLists.txt).
//
// glibc's vector expf is a call per 16 lanes with its own range reduction; this is 2^(y / ln 2)
// split into an integer power of two (added to the exponent bits) and 2^f for |f| <= 1/2 by a
// degree-6 polynomial (least-squares fit for relative error, 1e-7 in fp32). Measured on the AMD
// EPYC here: 4M values in ~1.7 ms against ~9 ms. Absolute error below 8e-8 everywhere; relative
// error about 1.5e-7 + 7e-8 |y| (5e-6 near y = -87, where the value is below 1e-37), because
// y / ln 2 is rounded once instead of being reduced in two parts, which would need exact fused
// multiply-adds that the avx2 and default clones lack. Below -87.3 (2^-126) the result is 0.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace electra::model::detail {

static inline float exp_nonpositive(float y) {
  const float t = y * 1.44269504088896341f;  // y / ln 2
  const float n = rintf(t < -126.0f ? -126.0f : t);
  const float f = t - n;  // [-1/2, 1/2], exact
  float p = 0.00015345652354881167f;
  p = p * f + 0.0013399870367720723f;
  p = p * f + 0.009618489071726799f;
  p = p * f + 0.05550329014658928f;
  p = p * f + 0.24022646248340607f;
  p = p * f + 0.6931471824645996f;
  p = p * f + 1.0f;  // 2^f in [0.70, 1.42]
  int32_t bits;
  memcpy(&bits, &p, sizeof bits);
  bits += static_cast<int32_t>(n) * (1 << 23);  // times 2^n, n >= -126: still a normal float
  float out;
  memcpy(&out, &bits, sizeof out);
  return t < -126.0f ? 0.0f : out;
}

}  // namespace electra::model::detail
