// Text examples -> model inputs: [CLS] A [SEP] (B [SEP]) with segment ids 0 / 1, truncated
// longest-first as BERT/ELECTRA's _truncate_seq_pair, and batches padded to their own longest
// example (not to max_seq_len: SST-2 sentences average ~13 tokens, so this is most of the
// fine-tuning speed on a CPU; attention masks make the results identical).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "data/tokenizer.h"
#include "finetune/dataset.h"

namespace electra::finetune {

struct Feature {
  std::vector<int32_t> ids;   // [CLS] A [SEP] (B [SEP]), unpadded
  std::vector<int8_t> types;  // 0 for [CLS] A [SEP], 1 for B [SEP]
  int64_t label = -1;
  float target = 0;
};

struct EncodeStats {
  int64_t truncated = 0;  // examples that lost tokens to max_seq_len
  int64_t tokens = 0;     // total tokens after truncation
};

// `max_len` counts the special tokens. A pair keeps at least one token of each text when
// max_len >= 5.
std::vector<Feature> encode_examples(const std::vector<TextExample>& examples,
                                     const data::Tokenizer& tok, int64_t max_len,
                                     EncodeStats* stats = nullptr);

// Removes tokens from the end of the longer sequence until |a| + |b| <= max_tokens.
void truncate_pair(std::vector<int32_t>& a, std::vector<int32_t>& b, size_t max_tokens);

struct FeatureBatch {
  at::Tensor input_ids;       // [batch, seq] int64
  at::Tensor attention_mask;  // [batch, seq] int64
  at::Tensor token_type_ids;  // [batch, seq] int64
  at::Tensor labels;          // [batch] int64 (classification)
  at::Tensor targets;         // [batch] float (regression)
  // Some example is shorter than seq. Known here, on the host, so that the model applies the
  // mask (or skips it) without a look at it on its device: a synchronisation per batch on a GPU.
  bool padded = false;
  int64_t size() const { return input_ids.defined() ? input_ids.size(0) : 0; }
};

// The features at `indices`, padded with `pad_id` to the longest of them.
FeatureBatch collate(const std::vector<Feature>& features, const std::vector<int64_t>& indices,
                     int32_t pad_id);
// The batch's tensors on `device` (a no-op copy of the handles when already there).
FeatureBatch batch_to(const FeatureBatch& batch, const at::Device& device);

}  // namespace electra::finetune
