#include "pretrain/adamw_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace electra::pretrain::detail {
namespace {

// Built for three instruction sets; the loader picks the best one this CPU has. Without
// -fno-math-errno (set for this file in CMake) the scalar sqrt and two divisions per element
// made the "fused" pass compute-bound and barely faster than seven tensor ops.
__attribute__((target_clones("avx512f", "avx2", "default"))) void adamw_range(
    float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
    int64_t begin, int64_t end, const AdamWScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i];
    const float mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
    const float vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / s.bc2_sqrt + s.eps;
    p[i] = p[i] * s.decay_factor - s.step_size * (mi / denom);
  }
}

}  // namespace

void adamw_cpu(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s) {
  at::parallel_for(0, n, 1 << 15,
                   [&](int64_t begin, int64_t end) { adamw_range(p, g, m, v, begin, end, s); });
}

}  // namespace electra::pretrain::detail
