// Compiled with -ffast-math (pretrain/CMakeLists.txt) for model/fast_exp.h; see
// pretrain/mlm_loss.h. Only C headers (and that header's declarations, and model/fast_exp.h's
// static functions).
#include <math.h>
#include <stdint.h>

#include "model/fast_exp.h"

namespace electra::pretrain::detail {
void mlm_rows_forward(const float* logits, int64_t rows, int64_t vocab, float* lse,
                      int32_t* argmax);
void mlm_rows_backward(const float* logits, const float* lse, const int64_t* labels, float scale,
                       int64_t rows, int64_t vocab, float* grad);

namespace {

// As pretrain/gumbel_scores.cpp: clones reached only through the plain functions below.
__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_impl(
    const float* __restrict logits, int64_t rows, int64_t vocab, float* __restrict lse,
    int32_t* __restrict argmax) {
  const int32_t v = static_cast<int32_t>(vocab);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * vocab;
    float m = x[0];
    for (int32_t j = 1; j < v; ++j)
      m = fmaxf(m, x[j]);
    // The first index holding the max (as at::argmax), as a min-reduction so that it
    // vectorises; the same pass sums the exponentials.
    int32_t first = v;
    float sum = 0.0f;
    for (int32_t j = 0; j < v; ++j) {
      first = x[j] == m && j < first ? j : first;
      sum += model::detail::exp_nonpositive(x[j] - m);
    }
    lse[r] = m + logf(sum);
    argmax[r] = first;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_impl(
    const float* __restrict logits, const float* __restrict lse, const int64_t* __restrict labels,
    float scale, int64_t rows, int64_t vocab, float* __restrict grad) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * vocab;
    float* g = grad + r * vocab;
    if (labels[r] < 0) {  // an ignored row (a filler target): no gradient
      for (int64_t j = 0; j < vocab; ++j)
        g[j] = 0.0f;
      continue;
    }
    const float l = lse[r];
    for (int64_t j = 0; j < vocab; ++j)
      g[j] = scale * model::detail::exp_nonpositive(x[j] - l);
    g[labels[r]] -= scale;
  }
}

}  // namespace

void mlm_rows_forward(const float* logits, int64_t rows, int64_t vocab, float* lse,
                      int32_t* argmax) {
  forward_impl(logits, rows, vocab, lse, argmax);
}

void mlm_rows_backward(const float* logits, const float* lse, const int64_t* labels, float scale,
                       int64_t rows, int64_t vocab, float* grad) {
  backward_impl(logits, lse, labels, scale, rows, vocab, grad);
}

}  // namespace electra::pretrain::detail
