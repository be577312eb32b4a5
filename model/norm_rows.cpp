// Compiled with -ffast-math (model/CMakeLists.txt); see model/norm_rows.h. Only C headers.
#include "model/norm_rows.h"

#include <math.h>

#include "model/bf16_bits.h"
#include "model/keep_bits.h"

namespace electra::model::detail {

namespace {

// As model/attention_rows.cpp: target clones reached only through the plain functions below.
__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_impl(
    const float* __restrict y32, const float* __restrict ybias, const uint16_t* __restrict y16,
    const bool* __restrict keep, float scale, const float* __restrict r,
    const float* __restrict gamma, const float* __restrict beta, float eps, int64_t rows, int64_t h,
    float* __restrict x, float* __restrict mean, float* __restrict rstd, float* __restrict out,
    uint16_t* __restrict out16) {
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t o = i * h;
    float* xi = x + o;
    if (y16 && ybias) {
      // The product left its bias out (bf16 training, model/encoder.cpp): add it in fp32, and
      // the dropout after it, rounding nowhere (ATen's addmm would round product + bias once).
      for (int64_t j = 0; j < h; ++j)
        xi[j] = bf16_to_float(y16[o + j]) + ybias[j];
      if (keep) {
        for (int64_t j = 0; j < h; ++j)
          xi[j] = xi[j] * scale * keep_factor(keep, o + j);
      }
    } else if (y16) {
      if (keep) {
        for (int64_t j = 0; j < h; ++j)
          xi[j] = bf16_to_float(
              float_to_bf16(bf16_to_float(y16[o + j]) * scale * keep_factor(keep, o + j)));
      } else {
        for (int64_t j = 0; j < h; ++j)
          xi[j] = bf16_to_float(y16[o + j]);
      }
    } else {
      for (int64_t j = 0; j < h; ++j)
        xi[j] = ybias ? y32[o + j] + ybias[j] : y32[o + j];
      if (keep) {
        for (int64_t j = 0; j < h; ++j)
          xi[j] = xi[j] * scale * keep_factor(keep, o + j);
      }
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < h; ++j) {
      xi[j] += r[o + j];
      sum += xi[j];
    }
    // Two passes (mean, then squared deviations): as accurate as ATen's moments in fp32.
    const float m = sum / static_cast<float>(h);
    float sq = 0.0f;
    for (int64_t j = 0; j < h; ++j)
      sq += (xi[j] - m) * (xi[j] - m);
    const float rs = 1.0f / sqrtf(sq / static_cast<float>(h) + eps);
    float* oi = out + o;
    for (int64_t j = 0; j < h; ++j)
      oi[j] = (xi[j] - m) * rs * gamma[j] + beta[j];
    if (out16) {
      for (int64_t j = 0; j < h; ++j)
        out16[o + j] = float_to_bf16(oi[j]);
    }
    mean[i] = m;
    rstd[i] = rs;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_impl(
    const float* __restrict g32, const uint16_t* __restrict g16, const float* __restrict x,
    const float* __restrict mean, const float* __restrict rstd, const float* __restrict gamma,
    const bool* __restrict keep, float scale, int64_t rows, int64_t h, float* __restrict dx,
    float* __restrict dy32, uint16_t* __restrict dy16, float* __restrict dgamma,
    float* __restrict dbeta, float* __restrict dybias) {
  const float inv_h = 1.0f / static_cast<float>(h);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t o = i * h;
    const float m = mean[i], rs = rstd[i];
    // g = g32 + g16: the output's gradient, summed as autograd would sum the fp32 output's and
    // its bf16 copy's (after casting the latter). Kept in dx until dx is computed in place (g is
    // based on dx, so not restrict: the last loop reads g[j] and writes dx[o + j], one element).
    float* g = dx + o;
    for (int64_t j = 0; j < h; ++j)
      g[j] = (g32 ? g32[o + j] : 0.0f) + (g16 ? bf16_to_float(g16[o + j]) : 0.0f);
    // d(xhat) = g * gamma; dx = rstd * (d(xhat) - mean(d(xhat)) - xhat * mean(d(xhat) * xhat)).
    float a = 0.0f, b = 0.0f;
    for (int64_t j = 0; j < h; ++j) {
      const float xhat = (x[o + j] - m) * rs;
      const float gg = g[j] * gamma[j];
      a += gg;
      b += gg * xhat;
      dgamma[j] += g[j] * xhat;
      dbeta[j] += g[j];
    }
    a *= inv_h;
    b *= inv_h;
    for (int64_t j = 0; j < h; ++j)
      dx[o + j] = rs * (g[j] * gamma[j] - a - (x[o + j] - m) * rs * b);
    if (dy16 && dybias) {
      // The forward above in fp32 from the cast on: one rounding, y's own.
      for (int64_t j = 0; j < h; ++j) {
        const float d = keep ? dx[o + j] * scale * keep_factor(keep, o + j) : dx[o + j];
        dy16[o + j] = float_to_bf16(d);
        dybias[j] += d;
      }
    } else if (dy16) {
      for (int64_t j = 0; j < h; ++j) {
        const float k = keep ? scale * keep_factor(keep, o + j) : 1.0f;
        dy16[o + j] = float_to_bf16(bf16_to_float(float_to_bf16(dx[o + j])) * k);
      }
    } else {
      for (int64_t j = 0; j < h; ++j)
        dy32[o + j] = keep ? dx[o + j] * scale * keep_factor(keep, o + j) : dx[o + j];
      if (dybias) {
        for (int64_t j = 0; j < h; ++j)
          dybias[j] += dy32[o + j];
      }
    }
  }
}

}  // namespace

void add_layer_norm_rows(const float* y32, const float* ybias, const uint16_t* y16,
                         const bool* keep, float scale, const float* r, const float* gamma,
                         const float* beta, float eps, int64_t rows, int64_t h, float* x,
                         float* mean, float* rstd, float* out, uint16_t* out16) {
  forward_impl(y32, ybias, y16, keep, scale, r, gamma, beta, eps, rows, h, x, mean, rstd, out,
               out16);
}

void add_layer_norm_rows_backward(const float* g32, const uint16_t* g16, const float* x,
                                  const float* mean, const float* rstd, const float* gamma,
                                  const bool* keep, float scale, int64_t rows, int64_t h, float* dx,
                                  float* dy32, uint16_t* dy16, float* dgamma, float* dbeta,
                                  float* dybias) {
  backward_impl(g32, g16, x, mean, rstd, gamma, keep, scale, rows, h, dx, dy32, dy16, dgamma, dbeta,
                dybias);
}

}  // namespace electra::model::detail
