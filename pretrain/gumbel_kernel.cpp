#include "pretrain/gumbel_kernel.h"

#include <ATen/Parallel.h>

#include <vector>

#include "common/rng.h"
#include "model/attention_rows.h"
#include "model/fast_random.h"

namespace electra::pretrain::detail {

namespace {

// Row r's logits as fp32 (bf16 ones widened into `row`, exactly), then the sampled index.
int64_t sample_row(const float* logits32, const uint16_t* logits16, int64_t r, int64_t vocab,
                   float temperature, uint64_t seed, float* scores, float* row) {
  Rng rng(mix_seed({seed, static_cast<uint64_t>(r)}));
  model::fill_uniform(rng, scores, vocab);  // as model::fill_uniform_ draws them
  const float* x = logits32 ? logits32 + r * vocab : row;
  if (!logits32) model::detail::widen_bf16(logits16 + r * vocab, vocab, row);
  gumbel_scores(x, scores, vocab, temperature);
  int64_t best = 0;  // the first maximum, as at::argmax
  for (int64_t k = 1; k < vocab; ++k)
    if (scores[k] > scores[best]) best = k;
  return best;
}

void sample_rows(const float* logits32, const uint16_t* logits16, int64_t rows, int64_t vocab,
                 float temperature, uint64_t seed, int64_t* out) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    // [vocab] each: the uniforms, then the scores; a bf16 row widened.
    std::vector<float> scores(static_cast<size_t>(vocab)), row(logits32 ? 0 : vocab);
    for (int64_t r = begin; r < end; ++r)
      out[r] =
          sample_row(logits32, logits16, r, vocab, temperature, seed, scores.data(), row.data());
  });
}

}  // namespace

void gumbel_argmax_cpu(const float* logits, int64_t rows, int64_t vocab, float temperature,
                       uint64_t seed, int64_t* out) {
  sample_rows(logits, nullptr, rows, vocab, temperature, seed, out);
}

void gumbel_argmax_cpu(const uint16_t* logits, int64_t rows, int64_t vocab, float temperature,
                       uint64_t seed, int64_t* out) {
  sample_rows(nullptr, logits, rows, vocab, temperature, seed, out);
}

}  // namespace electra::pretrain::detail
