// Compiled with -ffast-math (pretrain/CMakeLists.txt); see pretrain/gumbel_kernel.h. Only C
// headers: nothing inline from C++ or LibTorch may be instantiated under these flags.
#include <math.h>
#include <stdint.h>

namespace electra::pretrain::detail {

namespace {

// AVX-512, AVX2 and baseline x86-64 builds, chosen at load time like pretrain/adamw_kernel.cpp.
// File-local and called through gumbel_scores() below: clang 14 names a target_clones
// function's resolver "<name>.ifunc", so a call from another file does not link.
__attribute__((target_clones("avx512f", "avx2", "default"))) void scores_impl(
    const float* __restrict logits, float* __restrict scores, int64_t n, float temperature) {
  // The 1e-9 guards are the official ELECTRA code's: u = 0 gives a large finite noise term.
  if (temperature == 1.0f) {
    for (int64_t i = 0; i < n; ++i)
      scores[i] = logits[i] - logf(-logf(scores[i] + 1e-9f) + 1e-9f);
  } else {
    for (int64_t i = 0; i < n; ++i)
      scores[i] = logits[i] / temperature - logf(-logf(scores[i] + 1e-9f) + 1e-9f);
  }
}

}  // namespace

void gumbel_scores(const float* logits, float* scores, int64_t n, float temperature) {
  scores_impl(logits, scores, n, temperature);
}

}  // namespace electra::pretrain::detail
