// One fine-tuning run of one rank: validate every input, train with AdamW + warm-up/linear
// decay + layer-wise lr decay, evaluate on dev, keep the best checkpoint, write the final dev
// metrics and the test-set submission files.
//
// output.dir after a run:
//   config.yaml          the resolved experiment
//   train_log.jsonl      progress records and every dev evaluation
//   best_model/          HF ElectraForSequenceClassification (config.json with id2label,
//                        model.safetensors, tokenizer, finetune.json), replaced atomically
//   dev_results.jsonl    the best checkpoint's dev metrics, one JSON line per dev split
//   train_summary.json   steps, best step, training throughput (examples/s)
//   submission/          CoLA.tsv, MNLI-m.tsv, afqmc_predict.json, ... (test files present)
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "data/tokenizer.h"
#include "distributed/communicator.h"
#include "finetune/features.h"
#include "finetune/finetune_config.h"
#include "finetune/metrics.h"
#include "model/electra.h"

namespace electra::finetune {

struct FinetuneResult {
  std::vector<std::pair<std::string, MetricValues>> dev;  // per dev split: the best checkpoint's
  std::vector<std::string> json_lines;                    // the dev_results.jsonl lines
  double primary = 0;  // the task's selection metric on its first dev split
  int64_t best_step = 0;
  int64_t steps = 0;
  double train_examples_per_s = 0;  // summed over ranks, evaluation time excluded
  int signal = 0;  // non-zero when a signal stopped the run early (no results then)
};

// The training loss of a batch, summed over its examples (cross-entropy, or squared error for
// regression). The trainer divides it by the global batch size before backward, so that
// gradients summed over ranks are the mean over the global batch.
at::Tensor summed_loss(model::ElectraForSequenceClassification& net, const FeatureBatch& batch,
                       bool regression, at::ScalarType dt);

// Runs the experiment `cfg` (validated against finetune_schema()). Collective over `comm`.
FinetuneResult run_finetune(const Config& cfg, dist::Communicator& comm);

// The same with the typed config; `tokenizer` overrides data.tokenizer and the model's own
// (tests pass a small in-memory tokenizer). `config_yaml` is stored with the outputs.
FinetuneResult finetune(const FinetuneConfig& fc, const std::string& config_yaml,
                        std::shared_ptr<const data::Tokenizer> tokenizer, dist::Communicator& comm);

}  // namespace electra::finetune
