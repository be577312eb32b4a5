// The CPU AdamW update as one pass over a parameter's four arrays (internal to
// pretrain/optimizer.cpp). It is its own file so that it can be compiled to vectorise sqrt and
// division (-fno-math-errno), and cloned for AVX2 / AVX-512 with a runtime choice.
#pragma once

#include <cstdint>

namespace electra::pretrain::detail {

struct AdamWScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float decay_factor;  // 1 - lr * weight_decay (1 when the parameter is not decayed)
  float bc2_sqrt, eps;
  float step_size;  // lr / bias_correction1
};

// p, g, m, v: n fp32 values each (m, v the first and second moments). Does, in the same order
// and float arithmetic, what torch.optim.AdamW's tensor ops do: decay p, update m and v, then
// p -= step_size * m / (sqrt(v) / bc2_sqrt + eps). Parallel over the intra-op threads.
void adamw_cpu(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s);

}  // namespace electra::pretrain::detail
