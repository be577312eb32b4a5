// Eager vs another attention kernel (SDPA, fused) on the same discriminator (evaluation mode:
// no dropout), shared by tests/model (CPU) and tests/gpu (CUDA).
#pragma once

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "model/electra.h"

namespace electra::testing {

// ELECTRA-shaped but small: 2 layers, 4 heads of 16, embedding projection 24 -> 64.
inline model::ElectraConfig parity_config() {
  model::ElectraConfig c;
  c.vocab_size = 100;
  c.embedding_size = 24;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.max_position_embeddings = 32;
  return c;
}

// Max |eager - kernel| over the last hidden state ([3, 20, 64], every position, padded ones
// included) of one model on `device` in compute dtype `dt`, without a gradient. `padded`: rows
// of 20, 13 and 4 real tokens; else no padding (and no mask at all).
inline double max_diff_from_eager(model::AttentionKernel kernel, const at::Device& device,
                                  at::ScalarType dt, bool padded) {
  torch::manual_seed(3);
  model::ElectraForPreTraining disc(parity_config());
  disc->to(device);
  disc->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor ids = at::randint(5, 100, {3, 20}, at::kLong).to(device);  // [3, 20]
  at::Tensor mask = at::ones({3, 20}, at::kLong);                             // [3, 20]
  if (padded) {
    mask[1].slice(0, 13).zero_();
    mask[2].slice(0, 4).zero_();
  }
  mask = mask.to(device);
  at::Tensor h_eager, h_other;  // [3, 20, 64] fp32
  model::set_attention(*disc, model::AttentionKernel::kEager);
  disc(ids, mask, at::Tensor(), dt, &h_eager);
  model::set_attention(*disc, kernel);
  disc(ids, mask, at::Tensor(), dt, &h_other);
  return (h_eager - h_other).abs().max().item<double>();
}

inline double eager_sdpa_max_diff(const at::Device& device, at::ScalarType dt, bool padded) {
  return max_diff_from_eager(model::AttentionKernel::kSdpa, device, dt, padded);
}

}  // namespace electra::testing
