#include "pretrain/gumbel_kernel.h"

#include <ATen/Parallel.h>

#include <vector>

#include "common/rng.h"
#include "model/fast_random.h"

namespace electra::pretrain::detail {

void gumbel_argmax_cpu(const float* logits, int64_t rows, int64_t vocab, float temperature,
                       uint64_t seed, int64_t* out) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(vocab));  // [vocab]: uniforms, then scores
    for (int64_t r = begin; r < end; ++r) {
      Rng rng(mix_seed({seed, static_cast<uint64_t>(r)}));
      model::fill_uniform(rng, scores.data(), vocab);  // as model::fill_uniform_ draws them
      const float* row = logits + r * vocab;
      gumbel_scores(row, scores.data(), vocab, temperature);
      int64_t best = 0;  // the first maximum, as at::argmax
      for (int64_t k = 1; k < vocab; ++k)
        if (scores[k] > scores[best]) best = k;
      out[r] = best;
    }
  });
}

}  // namespace electra::pretrain::detail
