// The pretraining experiment: its config schema (every key, default and doc) and the typed
// struct the trainer reads. Defaults are ELECTRA-Small's published hyper-parameters.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "model/attention.h"
#include "model/electra_config.h"
#include "pretrain/loss_scaler.h"

namespace electra::pretrain {

// The keys shared by pretraining and fine-tuning (model.*).
void add_model_keys(ConfigSchema& schema);
// model.* -> ElectraConfig; vocab_size may still be 0 here when null (taken from the tokenizer).
model::ElectraConfig read_model_keys(const Config& cfg);
// model.attention -> the kernel for this LibTorch (UserError: sdpa where it does not exist).
model::AttentionKernel read_attention_key(const Config& cfg);

const ConfigSchema& pretrain_schema();

struct PretrainConfig {
  model::ElectraConfig discriminator;
  model::ElectraConfig generator;  // derived with generator.size_fraction
  double generator_fraction = 0.25;
  std::string init_from;

  std::vector<std::string> data_files;
  std::string data_format = "text";
  std::string tokenizer;
  int64_t seq_len = 128;
  double mask_prob = 0.15;
  int64_t chunk_bytes = 0;
  int64_t prefetch = 4;

  int64_t steps = 0;
  int64_t batch_size = 128;  // global: sequences per optimizer step, over all ranks
  int64_t grad_accum = 1;
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (pretrain/device.h resolves these)
  std::string device = "auto";     // auto | cpu | cuda
  bool tf32 = false;
  model::AttentionKernel attention = model::AttentionKernel::kEager;
  bool fused_layer_norm = true;  // model.fused_layer_norm (CUDA)
  bool fused_bias_gelu = true;   // model.fused_bias_gelu (CUDA)
  LossScalerOptions amp;         // used with precision fp16
  int64_t seed = 42;
  int64_t log_every = 100;
  int64_t save_every = 10000;
  int64_t keep_last = 3;
  int64_t threads = 0;  // 0: automatic
  int64_t exit_after_steps = 0;
  double exit_after_minutes = 0;
  std::string on_nonfinite = "skip";  // skip | stop
  bool wait_each_step = false;        // judge each step's norm before starting the next
  bool cuda_graphs = false;           // replay the step as a CUDA graph (pretrain/graphed_step.h)

  double lr = 5e-4;
  double weight_decay = 0.01;
  int64_t warmup_steps = 10000;
  double clip_norm = 1.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  bool bias_correction = true;

  double gen_weight = 1.0;
  double disc_weight = 50.0;
  double temperature = 1.0;

  std::string output_dir;
  bool tensorboard = true;

  // dist.*: data-parallel training (see distributed/gradient_reducer.h)
  double bucket_mb = 25;
  double timeout_s = 600;
  int64_t check_params_every = 0;
};

// Reads and cross-checks the typed values (UserError on inconsistencies). `vocab_size` from
// the tokenizer fills model.vocab_size when it is null; a mismatch is an error naming both.
PretrainConfig read_pretrain_config(const Config& cfg, int64_t tokenizer_vocab_size);

}  // namespace electra::pretrain
