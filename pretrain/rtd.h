// The replaced-token-detection objective (ELECTRA, Clark et al. 2020):
//  1. the generator runs on the masked input; its MLM head runs only at the masked positions
//     (gathered first: no [batch, seq, vocab] tensor is ever built);
//  2. replacements are sampled from softmax(logits / temperature) with the Gumbel-max trick,
//     in fp32 and without gradient;
//  3. the discriminator sees the input with the masked positions replaced by the samples, and a
//     token is labelled "replaced" only if it was masked and the sample differs from the
//     original;
//  4. loss = gen_weight * MLM cross-entropy (mean over masked positions)
//          + disc_weight * sigmoid BCE (mean over real, non-pad tokens).
#pragma once

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "data/batch.h"
#include "model/electra.h"
#include "pretrain/side_stream.h"

namespace electra::pretrain {

struct RtdOptions {
  double gen_weight = 1.0;
  double disc_weight = 50.0;
  double temperature = 1.0;
};

// All fields are scalar tensors so that nothing synchronises until a log line needs a value.
struct RtdOutput {
  at::Tensor loss;          // weighted total, with gradient
  at::Tensor gen_loss;      // MLM cross-entropy (detached)
  at::Tensor disc_loss;     // discriminator BCE (detached)
  at::Tensor disc_correct;  // real tokens the discriminator classified correctly
  at::Tensor disc_flagged;  // real tokens the discriminator calls replaced (logit > 0)
  at::Tensor real_tokens;   // real (non-pad) tokens
  at::Tensor gen_correct;   // masked positions where the generator's argmax is the original
  at::Tensor masked;        // masked positions
  at::Tensor replaced;      // positions labelled "replaced"
};

// Gumbel-max sample of one token per row of `logits` ([n, vocab] fp32) at `temperature`
// (sample_tokens in pretrain/sampling.h without top-k).
at::Tensor gumbel_sample(const at::Tensor& logits, double temperature, at::Generator& gen);

// Builds the discriminator input and labels: masked positions replaced by `sampled`.
// input_ids/masked_ids: [batch, seq]; masked_index/sampled/labels: [masked].
// Returns {fake_ids [batch, seq] int64, is_replaced [batch, seq] fp32}. `keep` ([masked] bool,
// optional): false for filler targets, which are never labelled replaced.
std::pair<at::Tensor, at::Tensor> replace_tokens(const at::Tensor& input_ids,
                                                 const at::Tensor& masked_index,
                                                 const at::Tensor& masked_labels,
                                                 const at::Tensor& sampled,
                                                 const at::Tensor& keep = {});

// `side` (optional, pretrain/side_stream.h): the generator, its head, its loss and the sampling
// are queued on the side stream, and the discriminator waits for the samples; its backward then
// runs there too. The caller joins the side stream after the backward pass.
RtdOutput rtd_forward(model::PretrainingPair& pair, const data::Batch& batch, at::ScalarType dt,
                      const RtdOptions& options, at::Generator& gumbel, SideStream* side = nullptr);

}  // namespace electra::pretrain
