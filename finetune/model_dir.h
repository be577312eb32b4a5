// Fine-tuned model directories: HF ElectraForSequenceClassification (config.json with id2label
// and problem_type, model.safetensors) plus the tokenizer and finetune.json (task, max_seq_len,
// step and dev metrics), written as one atomic directory so a crash mid-save leaves the
// previous best model in place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "finetune/metrics.h"
#include "model/electra.h"

namespace electra::finetune {

struct FinetunedInfo {
  std::string task;
  int64_t max_seq_len = 128;
  int64_t step = 0;
  int64_t seed = 0;
  MetricValues metrics;  // of the first dev split, at `step`
};

// Rank 0 only. `tokenizer` may have no files (in-memory test tokenizers): then none is copied.
void write_finetuned_model(const std::string& dir,
                           const model::ElectraForSequenceClassification& net,
                           const data::Tokenizer& tokenizer, const FinetunedInfo& info);

struct LoadedClassifier {
  model::ElectraForSequenceClassification net{nullptr};
  FinetunedInfo info;  // defaults when the directory has no finetune.json (plain HF model)
  bool has_info = false;
};

// Reads an HF ElectraForSequenceClassification directory (strict: every weight present).
LoadedClassifier read_finetuned_model(const std::string& dir);

}  // namespace electra::finetune
