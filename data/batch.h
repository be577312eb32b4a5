// Masking (dynamic, per batch) and the batch tensors the objective consumes.
#pragma once

#include <ATen/Tensor.h>

#include <array>

#include <cstdint>
#include <vector>

#include "data/packer.h"
#include "data/tokenizer.h"

namespace electra::data {

struct MaskOptions {
  double mask_prob = 0.15;        // fraction of maskable tokens to predict
  double mask_token_prob = 0.85;  // of those, the fraction replaced by [MASK]; the rest unchanged
};

struct Batch {
  at::Tensor input_ids;       // [batch, seq] int64: the original tokens
  at::Tensor masked_ids;      // [batch, seq] int64: the generator's input
  at::Tensor attention_mask;  // [batch, seq] int64: 1 for real tokens, 0 for padding
  at::Tensor token_type_ids;  // [batch, seq] int64
  at::Tensor masked_index;    // [masked] int64: flat index b * seq + position of each target
  at::Tensor masked_labels;   // [masked] int64: the original token at each target
  int64_t real_tokens = 0;
  // For fixed-shape steps (pretrain/graphed_step.h), which must not look at the data on the
  // host: `fixed_mask`: attention_mask is applied whatever real_tokens says (it may have
  // padding); `filler_targets`: masked_index may end with fillers (index 0, label -100) that
  // count nowhere.
  bool fixed_mask = false;
  bool filler_targets = false;

  // The tensors above in declaration order, undefined ones included, for code that treats them
  // alike (moving, copying, comparing shapes).
  std::array<at::Tensor*, 6> tensors() {
    return {&input_ids,      &masked_ids,   &attention_mask,
            &token_type_ids, &masked_index, &masked_labels};
  }
  std::array<const at::Tensor*, 6> tensors() const {
    return {&input_ids,      &masked_ids,   &attention_mask,
            &token_type_ids, &masked_index, &masked_labels};
  }
};

// The number of positions masked in a sequence with `candidates` maskable tokens:
// round(mask_prob * candidates), at least 1, at most int((mask_prob + 0.005) * seq_len)
// (google-research/electra's max_predictions_per_seq), and never more than the candidates.
int64_t num_to_mask(int64_t candidates, int64_t seq_len, double mask_prob);

// Masks `examples` as google-research/electra does (pretrain_helpers.mask): positions are
// drawn without replacement from the non-special tokens ([PAD] [CLS] [SEP] [MASK] are never
// chosen); 85% of them become [MASK] and 15% keep their token; no random replacement (the
// generator provides those). Deterministic in `seed`.
Batch mask_examples(const std::vector<Example>& examples, const SpecialIds& special,
                    const MaskOptions& options, uint64_t seed);

}  // namespace electra::data
