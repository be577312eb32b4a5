// Compiled with -ffast-math (pretrain/CMakeLists.txt) for model/fast_exp.h; see
// pretrain/mlm_loss.h. Only C headers (and that header's declarations, and model/fast_exp.h's
// static functions).
#include <math.h>
#include <stdint.h>

#include "model/bf16_bits.h"
#include "model/fast_exp.h"

namespace electra::pretrain::detail {
void mlm_rows_forward(const float* logits, int64_t rows, int64_t vocab, float* lse,
                      int32_t* argmax);
void mlm_rows_backward(const float* logits, const float* lse, const int64_t* labels, float scale,
                       int64_t rows, int64_t vocab, float* grad);
void mlm_rows_forward_bf16(const uint16_t* logits, int64_t rows, int64_t vocab, float* lse,
                           int32_t* argmax);
void mlm_rows_backward_bf16(const uint16_t* logits, const float* lse, const int64_t* labels,
                            float scale, int64_t rows, int64_t vocab, uint16_t* grad);

namespace {

// The element types: fp32 as it is, bf16 (raw bits) widened exactly on load and rounded to the
// nearest (ties to even) on store.
inline float load(const float* p, int64_t j) {
  return p[j];
}
inline float load(const uint16_t* p, int64_t j) {
  return model::detail::bf16_to_float(p[j]);
}
inline void store(float* p, int64_t j, float v) {
  p[j] = v;
}
inline void store(uint16_t* p, int64_t j, float v) {
  p[j] = model::detail::float_to_bf16(v);
}

// The loops for both element types, inlined into each target_clones function below.
template <class T>
inline __attribute__((always_inline)) void forward_rows(const T* __restrict logits, int64_t rows,
                                                        int64_t vocab, float* __restrict lse,
                                                        int32_t* __restrict argmax) {
  const int32_t v = static_cast<int32_t>(vocab);
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * vocab;
    float m = load(x, 0);
    for (int32_t j = 1; j < v; ++j)
      m = fmaxf(m, load(x, j));
    // A pure sum, so that it vectorises (with the index search in the same loop it did not,
    // and this pass was ~2% of a bf16 ELECTRA-Small step).
    float sum = 0.0f;
    for (int32_t j = 0; j < v; ++j)
      sum += model::detail::exp_nonpositive(load(x, j) - m);
    // The first index holding the max (as at::argmax): blocks of 64 tested with a vectorised
    // or-reduction, the first block that holds it scanned.
    int32_t first = v;
    for (int32_t b = 0; b < v && first == v; b += 64) {
      const int32_t e = b + 64 < v ? b + 64 : v;
      int hit = 0;
      for (int32_t j = b; j < e; ++j)
        hit |= load(x, j) == m;
      for (int32_t j = b; hit && j < e; ++j) {
        if (load(x, j) == m) {
          first = j;
          break;
        }
      }
    }
    lse[r] = m + logf(sum);
    argmax[r] = first;
  }
}

template <class T>
inline __attribute__((always_inline)) void backward_rows(const T* __restrict logits,
                                                         const float* __restrict lse,
                                                         const int64_t* __restrict labels,
                                                         float scale, int64_t rows, int64_t vocab,
                                                         T* __restrict grad) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * vocab;
    T* g = grad + r * vocab;
    if (labels[r] < 0) {  // an ignored row (a filler target): no gradient
      for (int64_t j = 0; j < vocab; ++j)
        store(g, j, 0.0f);
      continue;
    }
    const float l = lse[r];
    const int64_t y = labels[r];
    // The one-hot term inside the same expression, so that bf16 rounds the difference once.
    for (int64_t j = 0; j < vocab; ++j)
      store(g, j, scale * model::detail::exp_nonpositive(load(x, j) - l) - (j == y ? scale : 0.0f));
  }
}

// As pretrain/gumbel_scores.cpp: clones reached only through the plain functions below.
__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_impl(
    const float* __restrict logits, int64_t rows, int64_t vocab, float* __restrict lse,
    int32_t* __restrict argmax) {
  forward_rows(logits, rows, vocab, lse, argmax);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void forward16_impl(
    const uint16_t* __restrict logits, int64_t rows, int64_t vocab, float* __restrict lse,
    int32_t* __restrict argmax) {
  forward_rows(logits, rows, vocab, lse, argmax);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_impl(
    const float* __restrict logits, const float* __restrict lse, const int64_t* __restrict labels,
    float scale, int64_t rows, int64_t vocab, float* __restrict grad) {
  backward_rows(logits, lse, labels, scale, rows, vocab, grad);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void backward16_impl(
    const uint16_t* __restrict logits, const float* __restrict lse,
    const int64_t* __restrict labels, float scale, int64_t rows, int64_t vocab,
    uint16_t* __restrict grad) {
  backward_rows(logits, lse, labels, scale, rows, vocab, grad);
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

void mlm_rows_forward_bf16(const uint16_t* logits, int64_t rows, int64_t vocab, float* lse,
                           int32_t* argmax) {
  forward16_impl(logits, rows, vocab, lse, argmax);
}

void mlm_rows_backward_bf16(const uint16_t* logits, const float* lse, const int64_t* labels,
                            float scale, int64_t rows, int64_t vocab, uint16_t* grad) {
  backward16_impl(logits, lse, labels, scale, rows, vocab, grad);
}

}  // namespace electra::pretrain::detail
