// HuggingFace model directories: config.json + model.safetensors (or pytorch_model.bin).
#pragma once

#include <string>

#include "model/electra.h"
#include "model/safetensors.h"

namespace electra::model {

struct HfModel {
  ElectraConfig config;  // config.json; missing fields take HF defaults
  Architecture architecture = Architecture::kPreTraining;  // config.json "architectures"[0]
  TensorMap tensors;  // every stored tensor, legacy buffers (position_ids) dropped
  std::string weights_file;
};

// Reads config.json and the weights of an HF model directory. UserError naming the directory
// when it is not one.
HfModel read_hf_model(const std::string& dir);

// Loads the encoder ("electra.*" keys) of `m` into `encoder`: every encoder key must be present
// with the right shape; head weights are ignored. For fine-tuning from any ELECTRA checkpoint.
void load_encoder_weights(ElectraModel& encoder, const HfModel& m);

// Writes config.json + model.safetensors (HF names; a tied generator_lm_head.weight is left
// out, as HF's save_pretrained does).
void write_hf_model(const std::string& dir, const torch::nn::Module& module,
                    const ElectraConfig& config);

}  // namespace electra::model
