// Drawing tokens from MLM logits: the replacement sampling of the RTD objective and the
// `electra sample` command share it.
//
// A row of logits l gives the distribution softmax(l / T) (T = 1 leaves the model's
// distribution unchanged, T < 1 sharpens it, T > 1 flattens it), optionally restricted to its
// top_k most likely tokens; greedy takes the argmax instead. Draws use the Gumbel-max trick
// (argmax(l / T + g), g ~ Gumbel(0, 1)), which samples exactly that softmax, from an explicit
// generator: the same seed gives the same tokens.
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <cstdint>
#include <string>

namespace electra::pretrain {

struct SamplingOptions {
  double temperature = 1.0;  // finite and > 0
  bool greedy = false;       // argmax; temperature and top_k do not change it
  int64_t top_k = 0;         // > 0: only the k most likely tokens of each row; 0: all
};

// UserError naming `temperature_key` / `top_k_key` (the flag or config key) for a temperature
// that is not a finite number > 0, or a top_k outside [0, vocab_size].
void check_sampling_options(const SamplingOptions& options, int64_t vocab_size,
                            const std::string& temperature_key, const std::string& top_k_key);

// The distribution a draw follows: [n, vocab] fp32 rows summing to 1 (one-hot for greedy).
at::Tensor sampling_probabilities(const at::Tensor& logits, const SamplingOptions& options);

// One token per row of `logits` ([n, vocab]) -> [n] int64. Checks the options first
// (vocab_size = logits.size(-1)); no gradient flows. The noise is fp32 whatever the logits'
// dtype, drawn from `gen`: a CPU generator gives the same draws on any device (copied over), a
// CUDA generator draws on the GPU.
at::Tensor sample_tokens(const at::Tensor& logits, const SamplingOptions& options,
                         at::Generator& gen);

}  // namespace electra::pretrain
