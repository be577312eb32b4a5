// The fine-tuning experiment: its config schema and the typed struct the trainer reads.
// Defaults are the ELECTRA paper's fine-tuning recipe (appendix A, table 7) for ELECTRA-Base;
// the per-task files under configs/finetune/ set the task, epochs and learning rate.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "finetune/llrd.h"
#include "finetune/task.h"
#include "model/attention.h"
#include "model/electra_config.h"
#include "pretrain/loss_scaler.h"

namespace electra::finetune {

const ConfigSchema& finetune_schema();

struct FinetuneConfig {
  const TaskSpec* task = nullptr;
  std::string data_dir;
  std::string tokenizer;  // empty: the tokenizer next to the model
  int64_t max_seq_len = 128;

  std::string init_from;      // empty: random initialisation from model.*
  bool reset_head = false;    // ignore a classification head in init_from
  model::ElectraConfig arch;  // model.* (random init only; dropouts always apply)
  // model.* size keys set in the file or by --set, with where: with init_from they must agree
  // with the checkpoint (a setting that is silently ignored would mislead).
  std::vector<std::pair<std::string, std::string>> arch_keys_set;

  double epochs = 3;
  int64_t max_steps = 0;  // > 0: exactly this many steps (benchmarks), epochs ignored
  int64_t batch_size = 32;
  int64_t eval_batch_size = 64;
  int64_t seed = 42;
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (CUDA only, with loss scaling)
  std::string device = "auto";     // auto | cpu | cuda (pretrain/device.h)
  bool tf32 = false;
  model::AttentionKernel attention = model::AttentionKernel::kEager;
  bool fused_layer_norm = true;  // model.fused_layer_norm (CUDA)
  bool fused_bias_gelu = true;   // model.fused_bias_gelu (CUDA)
  pretrain::LossScalerOptions amp;
  int64_t eval_every = 0;  // 0: at the end of every epoch
  int64_t log_every = 50;
  int64_t threads = 0;

  double lr = 1e-4;
  LayerDecay layer_decay;
  double warmup_frac = 0.1;
  double weight_decay = 0.0;
  double clip_norm = 1.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;

  std::string output_dir;
  bool save_model = true;
  bool write_test = true;
};

// Reads and cross-checks the typed values; UserError naming the key and where it was set.
FinetuneConfig read_finetune_config(const Config& cfg);

}  // namespace electra::finetune
