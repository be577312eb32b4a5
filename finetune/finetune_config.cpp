#include "finetune/finetune_config.h"

#include "common/error.h"
#include "pretrain/device.h"
#include "pretrain/pretrain_config.h"

namespace electra::finetune {

const ConfigSchema& finetune_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.add_string("task.name", std::nullopt,
                 "cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli, afqmc, tnews, iflytek, "
                 "cmnli, ocnli, cluewsc2020, csl");
    s.add_string("data.dir", std::nullopt,
                 "GLUE or CLUE root: one folder per task (CoLA/, SST-2/, afqmc/, ...)")
        .add_string("data.tokenizer", std::nullopt,
                    "SentencePiece .model or BERT vocab.txt; null = the one next to the model "
                    "(spm.model / vocab.txt in model.init_from)")
        .add_int("data.max_seq_len", 128,
                 "tokens per example including [CLS]/[SEP]; longer "
                 "inputs are truncated longest-first");
    // model.*: the architecture for a random initialisation, and the dropouts that apply in
    // every case; model.init_from names the pre-trained weights.
    pretrain::add_model_keys(s);
    s.add_bool("model.reset_head", false,
               "start a fresh classification head even when model.init_from has one with the "
               "task's label count (e.g. MNLI -> RTE transfer keeps only the encoder)");
    s.add_float("train.epochs", 3.0, "passes over the training set (paper: 3; 10 for RTE, STS-B)")
        .add_int("train.max_steps", 0, "> 0: train exactly this many steps instead (benchmarks)")
        .add_int("train.batch_size", 32, "global batch: examples per step summed over ranks")
        .add_int("train.eval_batch_size", 64, "examples per forward pass when evaluating")
        .add_int("train.seed", 42, "seed for the head init, data order and dropout")
        .add_int("train.eval_every", 0, "steps between dev evaluations; 0 = after every epoch")
        .add_int("train.log_every", 50, "steps between progress lines")
        .add_int("train.threads", 0, "intra-op threads per rank; 0 = cores / local ranks");
    pretrain::add_runtime_keys(s,
                               "matmul precision (bf16/fp16 keep fp32 master weights, as "
                               "pretraining; fp16 is CUDA only, with loss scaling amp.*)");
    pretrain::add_loss_scaler_keys(s);
    s.add_float("optimizer.lr", 1e-4,
                "peak learning rate (paper: 3e-4 Small, 1e-4 Base, 5e-5 Large)")
        .add_float("optimizer.layer_decay", 0.8,
                   "layer-wise lr decay: layer i of L gets lr * decay^(L-i) (paper: 0.8 Small/"
                   "Base, 0.9 Large; 1 disables)")
        .add_bool("optimizer.layer_decay_official", false,
                  "use google-research/electra's exponents (two extra factors of decay on the "
                  "encoder; see finetune/llrd.h)")
        .add_float("optimizer.warmup_frac", 0.1, "fraction of the steps spent warming up")
        .add_float("optimizer.weight_decay", 0.0, "decoupled weight decay (paper: 0)")
        .add_float("optimizer.clip_norm", 1.0, "global gradient-norm clip; 0 disables")
        .add_float("optimizer.beta1", 0.9, "Adam beta1")
        .add_float("optimizer.beta2", 0.999, "Adam beta2")
        .add_float("optimizer.eps", 1e-6, "Adam epsilon");
    s.add_string("output.dir", "runs/finetune", "best model, metrics and predictions go here")
        .add_bool("output.save_model", true, "write the best model as an HF directory")
        .add_bool("output.write_test", true,
                  "write test-set predictions in the GLUE/CLUE submission format");
    return s;
  }();
  return schema;
}

FinetuneConfig read_finetune_config(const Config& c) {
  FinetuneConfig f;
  ELECTRA_CHECK_USER(!c.is_null("task.name"), "task.name is not set: name a GLUE or CLUE task (",
                     "e.g. --set task.name=cola; configs/finetune/ has one file per task)");
  f.task = &find_task(c.get_string("task.name"), cat("task.name (", c.source("task.name"), ")"));
  ELECTRA_CHECK_USER(!c.is_null("data.dir"), "data.dir is not set: give the ",
                     f.task->benchmark == Benchmark::kGlue ? "GLUE" : "CLUE",
                     " root directory (it holds ", f.task->folder, "/", f.task->train.file, ")");
  f.data_dir = c.get_string("data.dir");
  if (!c.is_null("data.tokenizer")) f.tokenizer = c.get_string("data.tokenizer");
  f.max_seq_len = c.get_int("data.max_seq_len");

  if (!c.is_null("model.init_from")) f.init_from = c.get_string("model.init_from");
  f.reset_head = c.get_bool("model.reset_head");
  f.arch = pretrain::read_model_keys(c);
  for (const char* key :
       {"model.vocab_size", "model.embedding_size", "model.hidden_size", "model.num_hidden_layers",
        "model.num_attention_heads", "model.intermediate_size", "model.hidden_act",
        "model.max_position_embeddings", "model.type_vocab_size", "model.layer_norm_eps",
        "model.initializer_range"}) {
    if (c.source(key) != "default") f.arch_keys_set.emplace_back(key, c.source(key));
  }

  f.epochs = c.get_float("train.epochs");
  f.max_steps = c.get_int("train.max_steps");
  f.batch_size = c.get_int("train.batch_size");
  f.eval_batch_size = c.get_int("train.eval_batch_size");
  f.seed = c.get_int("train.seed");
  f.precision = c.get_string("train.precision");
  f.device = c.get_string("train.device");
  f.tf32 = c.get_bool("train.tf32");
  pretrain::resolve_runtime(c, /*local_rank=*/0);  // device/precision errors now, with sources
  f.attention = pretrain::read_attention_key(c);
  f.fused_layer_norm = c.get_bool("model.fused_layer_norm");
  f.fused_bias_gelu = c.get_bool("model.fused_bias_gelu");
  f.amp = pretrain::read_loss_scaler_options(c);
  f.eval_every = c.get_int("train.eval_every");
  f.log_every = c.get_int("train.log_every");
  f.threads = c.get_int("train.threads");

  f.lr = c.get_float("optimizer.lr");
  f.layer_decay.decay = c.get_float("optimizer.layer_decay");
  f.layer_decay.official = c.get_bool("optimizer.layer_decay_official");
  f.warmup_frac = c.get_float("optimizer.warmup_frac");
  f.weight_decay = c.get_float("optimizer.weight_decay");
  f.clip_norm = c.get_float("optimizer.clip_norm");
  f.beta1 = c.get_float("optimizer.beta1");
  f.beta2 = c.get_float("optimizer.beta2");
  f.eps = c.get_float("optimizer.eps");

  f.output_dir = c.get_string("output.dir");
  f.save_model = c.get_bool("output.save_model");
  f.write_test = c.get_bool("output.write_test");

  auto where = [&](const char* key) { return cat(" (", c.source(key), ")"); };
  ELECTRA_CHECK_USER(f.max_seq_len >= 8 && f.max_seq_len <= 4096,
                     "data.max_seq_len must be in [8, 4096], got ", f.max_seq_len,
                     where("data.max_seq_len"));
  ELECTRA_CHECK_USER(f.epochs > 0 || f.max_steps > 0, "train.epochs must be positive, got ",
                     f.epochs, where("train.epochs"));
  ELECTRA_CHECK_USER(f.max_steps >= 0, "train.max_steps must be >= 0", where("train.max_steps"));
  ELECTRA_CHECK_USER(f.batch_size >= 1, "train.batch_size must be at least 1, got ", f.batch_size,
                     where("train.batch_size"));
  ELECTRA_CHECK_USER(f.eval_batch_size >= 1, "train.eval_batch_size must be at least 1",
                     where("train.eval_batch_size"));
  ELECTRA_CHECK_USER(f.eval_every >= 0, "train.eval_every must be >= 0", where("train.eval_every"));
  ELECTRA_CHECK_USER(f.log_every >= 1, "train.log_every must be at least 1",
                     where("train.log_every"));
  ELECTRA_CHECK_USER(f.threads >= 0, "train.threads must be >= 0", where("train.threads"));
  ELECTRA_CHECK_USER(f.lr > 0, "optimizer.lr must be positive, got ", f.lr, where("optimizer.lr"));
  ELECTRA_CHECK_USER(f.layer_decay.decay > 0 && f.layer_decay.decay <= 1,
                     "optimizer.layer_decay must be in (0, 1], got ", f.layer_decay.decay,
                     where("optimizer.layer_decay"));
  ELECTRA_CHECK_USER(f.warmup_frac >= 0 && f.warmup_frac < 1,
                     "optimizer.warmup_frac must be in [0, 1), got ", f.warmup_frac,
                     where("optimizer.warmup_frac"));
  ELECTRA_CHECK_USER(f.weight_decay >= 0, "optimizer.weight_decay must be >= 0",
                     where("optimizer.weight_decay"));
  ELECTRA_CHECK_USER(f.clip_norm >= 0, "optimizer.clip_norm must be >= 0",
                     where("optimizer.clip_norm"));
  ELECTRA_CHECK_USER(!f.output_dir.empty(), "output.dir must be set");
  return f;
}

}  // namespace electra::finetune
