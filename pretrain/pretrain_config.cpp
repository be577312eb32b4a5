#include "pretrain/pretrain_config.h"

#include "common/error.h"
#include "pretrain/device.h"

namespace electra::pretrain {

void add_model_keys(ConfigSchema& s) {
  s.add_int("model.vocab_size", std::nullopt, "vocabulary size; null = take it from the tokenizer")
      .add_int("model.embedding_size", 128,
               "embedding width (shared by generator and discriminator)")
      .add_int("model.hidden_size", 256, "discriminator hidden size")
      .add_int("model.num_hidden_layers", 12, "transformer layers (the generator has as many)")
      .add_int("model.num_attention_heads", 4, "attention heads")
      .add_int("model.intermediate_size", 1024, "feed-forward width")
      .add_string("model.hidden_act", "gelu", "activation (gelu = exact erf GELU)",
                  {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu",
                   "silu", "swish", "tanh", "linear"})
      .add_float("model.hidden_dropout_prob", 0.1, "dropout on embeddings and layer outputs")
      .add_float("model.attention_probs_dropout_prob", 0.1, "dropout on attention probabilities")
      .add_int("model.max_position_embeddings", 512, "position table size")
      .add_int("model.type_vocab_size", 2, "segment (token type) ids")
      .add_float("model.layer_norm_eps", 1e-12, "LayerNorm epsilon")
      .add_float("model.initializer_range", 0.02, "std of the normal weight init")
      .add_string("model.attention", "auto",
                  "self-attention kernel: sdpa = at::scaled_dot_product_attention (flash / "
                  "memory-efficient on CUDA; LibTorch 2.x), fused = our CPU kernels: one "
                  "parallel pass per (sequence, head) for fp32 and bf16 evaluation, the softmax "
                  "middle alone in bf16 training, plus dropout + residual + LayerNorm in one "
                  "pass (eager on other devices), eager = matmul + softmax and ATen's "
                  "LayerNorm; auto = sdpa where LibTorch has it, else fused. Same results in "
                  "evaluation; in training SDPA's dropout masks come from torch's generator",
                  {"auto", "eager", "fused", "sdpa"})
      .add_bool("model.fused_layer_norm", true,
                "on CUDA: each block's dropout, residual add and LayerNorm in one kernel forward "
                "and one backward, and the next block's low-precision input written beside it "
                "(builds with ELECTRA_CUDA_KERNELS); false = ATen's ops. Dropout masks differ "
                "from at::dropout's for the same seed. No effect on the CPU")
      .add_bool("model.fused_bias_gelu", true,
                "on CUDA: the feed-forward block's backward GELU, its derivative and the first "
                "product's bias gradient in one kernel (builds with ELECTRA_CUDA_KERNELS); "
                "false = ATen's three passes. No effect on the CPU")
      .add_string("model.init_from", std::nullopt,
                  "start from these weights (when not resuming): one of our checkpoints, a run "
                  "directory, or a directory with discriminator/ and generator/ exports (both "
                  "models); an HF ElectraForPreTraining directory (discriminator and shared "
                  "embeddings) or ElectraForMaskedLM directory (generator and shared "
                  "embeddings); or DISC_DIR,GEN_DIR. Sizes must match model.*");
}

model::ElectraConfig read_model_keys(const Config& c) {
  model::ElectraConfig m;
  m.vocab_size = c.get_opt_int("model.vocab_size").value_or(0);
  m.embedding_size = c.get_int("model.embedding_size");
  m.hidden_size = c.get_int("model.hidden_size");
  m.num_hidden_layers = c.get_int("model.num_hidden_layers");
  m.num_attention_heads = c.get_int("model.num_attention_heads");
  m.intermediate_size = c.get_int("model.intermediate_size");
  m.hidden_act = c.get_string("model.hidden_act");
  m.hidden_dropout_prob = c.get_float("model.hidden_dropout_prob");
  m.attention_probs_dropout_prob = c.get_float("model.attention_probs_dropout_prob");
  m.max_position_embeddings = c.get_int("model.max_position_embeddings");
  m.type_vocab_size = c.get_int("model.type_vocab_size");
  m.layer_norm_eps = c.get_float("model.layer_norm_eps");
  m.initializer_range = c.get_float("model.initializer_range");
  return m;
}

model::AttentionKernel read_attention_key(const Config& c) {
  return model::resolve_attention(c.get_string("model.attention"),
                                  cat("(", c.source("model.attention"), ")"));
}

const ConfigSchema& pretrain_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    add_model_keys(s);
    s.add_float("generator.size_fraction", 0.25,
                "generator width as a fraction of the discriminator's (hidden, heads, FFN)");
    s.add_string_list("data.files", {}, "corpus files, directories or glob patterns")
        .add_string("data.format", "text", "corpus format", {"text", "wikiextractor", "jsonl"})
        .add_string("data.tokenizer", std::nullopt,
                    "SentencePiece .model or BERT vocab.txt (told apart by the file)")
        .add_int("data.seq_len", 128, "tokens per sequence, including [CLS]/[SEP]")
        .add_float("data.mask_prob", 0.15, "fraction of tokens the generator predicts")
        .add_int("data.chunk_bytes", 0, "shard granularity within large files; 0 = automatic")
        .add_int("data.prefetch", 4, "batches prepared ahead by the background thread");
    s.add_int("train.steps", 1000000, "optimizer steps")
        .add_int("train.batch_size", 128,
                 "global batch: sequences per optimizer step, summed over ranks and micro-steps")
        .add_int("train.grad_accum", 1, "micro-steps per optimizer step")
        .add_int("train.seed", 42, "seed for weights, data order, masking and sampling")
        .add_int("train.log_every", 100, "steps between progress lines and metric records")
        .add_int("train.save_every", 10000,
                 "steps between checkpoints (one is always written at the end)")
        .add_int("train.keep_last", 3, "checkpoints kept; older ones are deleted")
        .add_int("train.threads", 0, "intra-op threads per rank; 0 = cores / local ranks")
        .add_int("train.exit_after_steps", 0,
                 "stop (with a checkpoint) after this many steps of this invocation; 0 = never")
        .add_float("train.exit_after_minutes", 0.0,
                   "stop (with a checkpoint) after this much wall time, e.g. before a SLURM "
                   "time limit; 0 = never")
        .add_string("train.on_nonfinite", "skip",
                    "a step whose gradient norm is NaN/inf: skip = drop its update, count it "
                    "and go on (10 in a row stop the run); stop = end the run at once",
                    {"skip", "stop"})
        .add_bool("train.wait_each_step", false,
                  "read each step's gradient norm before starting the next step (false: one "
                  "step later, a non-finite update being dropped where the weights are, so a "
                  "GPU's host never waits for the device; fp16's loss scaler always waits)")
        .add_bool("train.cuda_graphs", false,
                  "CUDA: capture the forward and backward pass as a CUDA graph and replay it, "
                  "so the host queues a step with one call (one rank, train.grad_accum 1, bf16 "
                  "or fp32; a batch of another size runs eagerly)");
    add_runtime_keys(s,
                     "matmul precision; bf16 and fp16 keep fp32 master weights, LayerNorm, "
                     "softmax and losses in fp32; fp16 (CUDA only) adds dynamic loss scaling "
                     "(amp.*)");
    add_loss_scaler_keys(s);
    s.add_float("optimizer.lr", 5e-4, "peak learning rate")
        .add_float("optimizer.weight_decay", 0.01,
                   "decoupled weight decay (not on biases/LayerNorm)")
        .add_int("optimizer.warmup_steps", 10000, "linear warm-up steps, then linear decay to 0")
        .add_float("optimizer.clip_norm", 1.0, "global gradient-norm clip; 0 disables")
        .add_float("optimizer.beta1", 0.9, "Adam beta1")
        .add_float("optimizer.beta2", 0.999, "Adam beta2")
        .add_float("optimizer.eps", 1e-6, "Adam epsilon")
        .add_bool("optimizer.bias_correction", true,
                  "Adam bias correction (torch/HF AdamW; the official TF code has none)");
    s.add_float("loss.gen_weight", 1.0, "weight of the generator MLM loss")
        .add_float("loss.disc_weight", 50.0, "weight of the discriminator loss (paper: 50)")
        .add_float("loss.temperature", 1.0, "sampling temperature for replacements");
    s.add_string("output.dir", "runs/electra", "checkpoints, metrics and exports go here")
        .add_bool("output.tensorboard", true, "write TensorBoard event files");
    s.add_float("dist.bucket_mb", 25.0,
                "gradient all-reduce bucket size in MiB; a bucket is sent as soon as backward "
                "has produced all its gradients")
        .add_float("dist.timeout_s", 600.0,
                   "a collective not complete after this many seconds means a rank died or "
                   "hangs: the job ends with a message naming it")
        .add_int("dist.check_params_every", 0,
                 "debug: every N steps check that all ranks hold identical parameters; 0 = never");
    return s;
  }();
  return schema;
}

PretrainConfig read_pretrain_config(const Config& c, int64_t tokenizer_vocab_size) {
  PretrainConfig p;
  p.discriminator = read_model_keys(c);
  if (p.discriminator.vocab_size == 0) {
    p.discriminator.vocab_size = tokenizer_vocab_size;
  } else if (tokenizer_vocab_size > 0) {
    ELECTRA_CHECK_USER(p.discriminator.vocab_size == tokenizer_vocab_size, "model.vocab_size is ",
                       p.discriminator.vocab_size, " (", c.source("model.vocab_size"),
                       ") but the tokenizer '", c.get_string("data.tokenizer"), "' has ",
                       tokenizer_vocab_size, " tokens. Set model.vocab_size to ",
                       tokenizer_vocab_size, " or to null to take it from the tokenizer");
  }
  p.discriminator.architectures = {"ElectraForPreTraining"};
  p.discriminator.validate("model config");
  p.generator_fraction = c.get_float("generator.size_fraction");
  p.generator = model::generator_config(p.discriminator, p.generator_fraction);
  p.init_from = c.get_string("model.init_from");
  p.attention = read_attention_key(c);
  p.fused_layer_norm = c.get_bool("model.fused_layer_norm");
  p.fused_bias_gelu = c.get_bool("model.fused_bias_gelu");

  p.data_files = c.get_strings("data.files");
  p.data_format = c.get_string("data.format");
  p.tokenizer = c.get_string("data.tokenizer");
  p.seq_len = c.get_int("data.seq_len");
  p.mask_prob = c.get_float("data.mask_prob");
  p.chunk_bytes = c.get_int("data.chunk_bytes");
  p.prefetch = c.get_int("data.prefetch");

  p.steps = c.get_int("train.steps");
  p.batch_size = c.get_int("train.batch_size");
  p.grad_accum = c.get_int("train.grad_accum");
  p.precision = c.get_string("train.precision");
  p.device = c.get_string("train.device");
  p.tf32 = c.get_bool("train.tf32");
  resolve_runtime(c, /*local_rank=*/0);  // device and precision errors now, naming the keys
  p.seed = c.get_int("train.seed");
  p.log_every = c.get_int("train.log_every");
  p.save_every = c.get_int("train.save_every");
  p.keep_last = c.get_int("train.keep_last");
  p.threads = c.get_int("train.threads");
  p.exit_after_steps = c.get_int("train.exit_after_steps");
  p.exit_after_minutes = c.get_float("train.exit_after_minutes");
  p.on_nonfinite = c.get_string("train.on_nonfinite");
  p.wait_each_step = c.get_bool("train.wait_each_step");
  p.cuda_graphs = c.get_bool("train.cuda_graphs");
  p.amp = read_loss_scaler_options(c);

  p.lr = c.get_float("optimizer.lr");
  p.weight_decay = c.get_float("optimizer.weight_decay");
  p.warmup_steps = c.get_int("optimizer.warmup_steps");
  p.clip_norm = c.get_float("optimizer.clip_norm");
  p.beta1 = c.get_float("optimizer.beta1");
  p.beta2 = c.get_float("optimizer.beta2");
  p.eps = c.get_float("optimizer.eps");
  p.bias_correction = c.get_bool("optimizer.bias_correction");

  p.gen_weight = c.get_float("loss.gen_weight");
  p.disc_weight = c.get_float("loss.disc_weight");
  p.temperature = c.get_float("loss.temperature");

  p.output_dir = c.get_string("output.dir");
  p.tensorboard = c.get_bool("output.tensorboard");

  p.bucket_mb = c.get_float("dist.bucket_mb");
  p.timeout_s = c.get_float("dist.timeout_s");
  p.check_params_every = c.get_int("dist.check_params_every");

  auto at_least = [&](const char* key, int64_t v, int64_t lo) {
    ELECTRA_CHECK_USER(v >= lo, key, " must be at least ", lo, ", got ", v, " (", c.source(key),
                       ")");
  };
  at_least("train.steps", p.steps, 1);
  at_least("train.batch_size", p.batch_size, 1);
  at_least("train.grad_accum", p.grad_accum, 1);
  at_least("train.log_every", p.log_every, 1);
  at_least("train.save_every", p.save_every, 1);
  at_least("train.keep_last", p.keep_last, 1);
  at_least("train.threads", p.threads, 0);
  at_least("train.exit_after_steps", p.exit_after_steps, 0);
  at_least("optimizer.warmup_steps", p.warmup_steps, 0);
  at_least("data.prefetch", p.prefetch, 1);
  at_least("data.chunk_bytes", p.chunk_bytes, 0);
  at_least("dist.check_params_every", p.check_params_every, 0);
  ELECTRA_CHECK_USER(p.bucket_mb > 0, "dist.bucket_mb must be positive, got ", p.bucket_mb, " (",
                     c.source("dist.bucket_mb"), ")");
  ELECTRA_CHECK_USER(p.timeout_s > 0, "dist.timeout_s must be positive, got ", p.timeout_s, " (",
                     c.source("dist.timeout_s"), ")");
  ELECTRA_CHECK_USER(p.seq_len >= 8 && p.seq_len <= p.discriminator.max_position_embeddings,
                     "data.seq_len must be in [8, model.max_position_embeddings=",
                     p.discriminator.max_position_embeddings, "], got ", p.seq_len);
  ELECTRA_CHECK_USER(p.mask_prob > 0 && p.mask_prob < 1, "data.mask_prob must be in (0, 1), got ",
                     p.mask_prob);
  ELECTRA_CHECK_USER(p.lr > 0, "optimizer.lr must be positive, got ", p.lr);
  ELECTRA_CHECK_USER(p.temperature > 0, "loss.temperature must be positive, got ", p.temperature);
  ELECTRA_CHECK_USER(p.clip_norm >= 0, "optimizer.clip_norm must be >= 0");
  ELECTRA_CHECK_USER(!p.output_dir.empty(), "output.dir must be set");
  return p;
}

}  // namespace electra::pretrain
