// HuggingFace model directories: config.json + model.safetensors or pytorch_model.bin.
//
// Loading follows transformers' from_pretrained for the ELECTRA task models:
//  - config.json "architectures"[0] picks the model (ElectraForPreTraining, ElectraForMaskedLM,
//    ElectraForSequenceClassification); missing config fields take HF's defaults;
//  - a tied generator (tie_word_embeddings, the default) uses the word-embedding table as
//    generator_lm_head.weight: safetensors files leave that key out (save_pretrained drops
//    aliases), .bin files carry both (shared storage). When present it is dropped, with a
//    warning if it differs from the embeddings (the embeddings win, as in HF's tie_weights);
//  - the legacy buffers electra.embeddings.position_ids / token_type_ids are ignored;
//  - any other missing or unexpected key, or a shape mismatch, is a UserError listing them.
#pragma once

#include <string>
#include <vector>

#include "model/electra.h"
#include "model/safetensors.h"

namespace electra::model {

enum class WeightsFormat { kAuto, kSafetensors, kBin };  // kAuto: safetensors when present
// "auto" | "safetensors" | "bin"; `key` names the flag for the error message.
WeightsFormat parse_weights_format(const std::string& name, const std::string& key);

struct HfModel {
  ElectraConfig config;  // config.json; missing fields take HF defaults
  Architecture architecture = Architecture::kPreTraining;  // config.json "architectures"[0]
  TensorMap tensors;  // every stored tensor, legacy buffers (position_ids) dropped
  std::string weights_file;
  std::vector<std::string> notes;  // what loading ignored or repaired, for logs and reports
};

// Reads config.json and the weights of an HF model directory. UserError naming the directory
// when it is not one, or when the requested weights file is absent.
HfModel read_hf_model(const std::string& dir, WeightsFormat format = WeightsFormat::kAuto);

// Loads the encoder ("electra.*" keys) of `m` into `encoder`: every encoder key must be present
// with the right shape; head weights are ignored. For fine-tuning from any ELECTRA checkpoint.
void load_encoder_weights(ElectraModel& encoder, const HfModel& m);

// Strictly loads `m` into `module`, a task model of architecture `arch` built from `config`
// (the tie rules above; appends to m.notes).
void load_task_weights(torch::nn::Module& module, Architecture arch, const ElectraConfig& config,
                       HfModel& m);

// The outputs HF's task models return (eval-mode forward).
struct TaskOutput {
  at::Tensor logits;  // disc: [batch, seq]; gen: [batch, seq, vocab]; cls: [batch, num_labels]
  at::Tensor last_hidden_state;           // [batch, seq, hidden]
  std::vector<at::Tensor> hidden_states;  // when asked: embeddings (after project) + each layer
};

// Whichever task model a config.json names, behind one forward.
struct TaskModel {
  Architecture architecture = Architecture::kPreTraining;
  ElectraConfig config;
  ElectraForPreTraining discriminator{nullptr};          // set for kPreTraining
  ElectraForMaskedLM generator{nullptr};                 // set for kMaskedLM
  ElectraForSequenceClassification classifier{nullptr};  // set for kSequenceClassification
  std::string weights_file;                              // empty for a freshly built model
  std::vector<std::string> notes;                        // from loading

  torch::nn::Module& module();
  ElectraModel& encoder();
  // input_ids, attention_mask, token_type_ids: [batch, seq] int64 (mask/types may be undefined)
  TaskOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, bool all_hidden_states = false,
                     at::ScalarType dt = at::kFloat);
};

// A freshly built (HF-initialised) task model; seed the default torch generator first.
TaskModel build_task_model(Architecture arch, const ElectraConfig& config);
// Builds the model config.json names and loads its weights strictly.
TaskModel load_hf_model(const std::string& dir, WeightsFormat format = WeightsFormat::kAuto);

// Writes config.json + model.safetensors (HF names; a tied generator_lm_head.weight is left
// out, as HF's save_pretrained does).
void write_hf_model(const std::string& dir, const torch::nn::Module& module,
                    const ElectraConfig& config);

}  // namespace electra::model
