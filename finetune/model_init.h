// Where fine-tuning starts from, and the ElectraForSequenceClassification built from it.
//
// model.init_from may be
//   - one of our pretraining checkpoints (a step-N directory with COMPLETE): its
//     discriminator/ is loaded and its tokenizer/ is the default tokenizer;
//   - a pretraining run's output.dir (or its checkpoints/ directory): its newest checkpoint;
//   - an HF model directory (config.json + weights): ElectraForPreTraining, ElectraForMaskedLM
//     or ElectraForSequenceClassification; the tokenizer defaults to its spm.model / vocab.txt;
//   - empty: a random initialisation from the model.* keys (baselines, tests).
// The encoder ("electra.*") is always loaded. A classification head in the source is loaded
// only when it predicts the task's labels (same count, and the same names when it has real
// names); otherwise fine-tuning stops with an error that names both label sets, unless
// model.reset_head=true asks for a fresh head. A silent fresh head would hide a mix-up of
// checkpoints; a silently loaded head with the wrong label order would be worse.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "finetune/finetune_config.h"
#include "model/electra.h"

namespace electra::finetune {

struct InitSource {
  std::string model_dir;  // HF model directory; empty for a random initialisation
  std::string tokenizer;  // default tokenizer location (file or directory); may be empty
  std::string describe;   // for the log: "checkpoint runs/x/checkpoints/step-00001000"
};

InitSource resolve_init_source(const std::string& init_from);

// The architecture of the source (config.json) with the task's head settings and the
// configured dropouts; or model.* for a random initialisation. Checks the source's own
// classification head against the task (see above) and model.* keys set alongside init_from.
struct ModelPlan {
  model::ElectraConfig config;  // ElectraForSequenceClassification config to build
  bool load_head = false;
  std::string head_note;  // why the head is loaded or fresh
};
ModelPlan plan_model(const FinetuneConfig& cfg, const InitSource& src,
                     const std::vector<std::string>& labels);

// Completes the plan with the tokenizer (vocab size, pad id) and checks that they fit.
void fit_tokenizer(ModelPlan& plan, const FinetuneConfig& cfg, int64_t tokenizer_vocab,
                   int32_t pad_id, const std::string& tokenizer_desc);

// Empty when the classification head configured in `c` predicts the task's labels (same count,
// and the same names unless `c` has only generic LABEL_i names); else a sentence saying why not.
std::string head_mismatch(const model::ElectraConfig& c, const TaskSpec& task,
                          const std::vector<std::string>& labels);

// Builds the model: HF init from the default generator (seed it first), then the source's
// encoder (and head, per plan).
model::ElectraForSequenceClassification build_model(const ModelPlan& plan, const InitSource& src);

}  // namespace electra::finetune
