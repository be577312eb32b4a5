#include "finetune/model_init.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/hf_io.h"
#include "model/weights.h"
#include "pretrain/checkpoint.h"

namespace electra::finetune {
namespace {

InitSource from_checkpoint(const std::string& dir) {
  pretrain::verify_checkpoint(dir);
  InitSource s;
  s.model_dir = fs::join(dir, "discriminator");
  const std::string tok = fs::join(dir, "tokenizer");
  if (fs::is_dir(tok)) s.tokenizer = tok;
  s.describe = "pretraining checkpoint " + dir + " (discriminator)";
  return s;
}

bool generic_label_names(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i)
    if (!names[i].empty() && names[i] != "LABEL_" + std::to_string(i)) return false;
  return true;
}

// The value of a model.* size key in an ElectraConfig, as text (for comparisons and messages).
std::string arch_value(const model::ElectraConfig& c, const std::string& key) {
  if (key == "model.vocab_size") return std::to_string(c.vocab_size);
  if (key == "model.embedding_size") return std::to_string(c.embedding_size);
  if (key == "model.hidden_size") return std::to_string(c.hidden_size);
  if (key == "model.num_hidden_layers") return std::to_string(c.num_hidden_layers);
  if (key == "model.num_attention_heads") return std::to_string(c.num_attention_heads);
  if (key == "model.intermediate_size") return std::to_string(c.intermediate_size);
  if (key == "model.hidden_act") return c.hidden_act;
  if (key == "model.max_position_embeddings") return std::to_string(c.max_position_embeddings);
  if (key == "model.type_vocab_size") return std::to_string(c.type_vocab_size);
  if (key == "model.layer_norm_eps") return cat(c.layer_norm_eps);
  if (key == "model.initializer_range") return cat(c.initializer_range);
  ELECTRA_CHECK(false, "unknown model key ", key);
  return "";
}

}  // namespace

std::string head_mismatch(const model::ElectraConfig& s, const TaskSpec& task,
                          const std::vector<std::string>& labels) {
  // HF: num_labels 1 without a problem_type is a regression head.
  const bool src_regression =
      s.problem_type == "regression" || (s.problem_type.empty() && s.num_labels == 1);
  std::string src_labels = src_regression ? "a regression output" : cat(s.num_labels, " labels");
  if (!src_regression && !generic_label_names(s.id2label))
    src_labels += " (" + join(s.id2label, ", ") + ")";
  const std::string task_labels = task.regression
                                      ? std::string("a regression output")
                                      : cat(labels.size(), " labels (", join(labels, ", "), ")");
  const bool same_count = s.num_labels == task.num_labels() && src_regression == task.regression;
  const bool same_names =
      task.regression || generic_label_names(s.id2label) || s.id2label == labels;
  if (same_count && same_names) return "";
  return cat("the model's classification head predicts ", src_labels, " but task ", task.name,
             " needs ", task_labels);
}

InitSource resolve_init_source(const std::string& init_from) {
  if (init_from.empty()) return {"", "", "random initialisation (model.*)"};
  ELECTRA_CHECK_USER(fs::is_dir(init_from), "model.init_from: '", init_from,
                     "' is not a directory (give a pretraining checkpoint, a pretraining run's "
                     "output.dir, or an HF model directory)");
  if (pretrain::is_complete_checkpoint(init_from)) return from_checkpoint(init_from);
  // A run directory, or its checkpoints/ folder: the newest complete checkpoint.
  for (const std::string& d : {fs::join(init_from, "checkpoints"), init_from}) {
    if (!fs::is_dir(d)) continue;
    if (auto latest = pretrain::latest_checkpoint(d)) return from_checkpoint(*latest);
  }
  if (fs::exists(fs::join(init_from, "config.json"))) {
    InitSource s;
    s.model_dir = init_from;
    s.tokenizer = init_from;
    s.describe = "HF model " + init_from;
    return s;
  }
  throw_user("model.init_from: '", init_from,
             "' is neither a pretraining checkpoint (a step-N "
             "directory with COMPLETE), a run directory holding one, nor an HF model directory "
             "(config.json + model.safetensors)");
}

ModelPlan plan_model(const FinetuneConfig& cfg, const InitSource& src,
                     const std::vector<std::string>& labels) {
  const TaskSpec& task = *cfg.task;
  ModelPlan plan;
  model::ElectraConfig& m = plan.config;
  if (src.model_dir.empty()) {
    m = cfg.arch;
    plan.head_note = "fresh head (random initialisation)";
  } else {
    const std::string cfg_path = fs::join(src.model_dir, "config.json");
    ELECTRA_CHECK_USER(fs::exists(cfg_path), "model.init_from: ", src.model_dir,
                       " has no config.json");
    const model::ElectraConfig s = model::load_config_json(cfg_path);
    for (const auto& [key, where] : cfg.arch_keys_set) {
      ELECTRA_CHECK_USER(arch_value(cfg.arch, key) == arch_value(s, key), key, " = ",
                         arch_value(cfg.arch, key), " (", where, ") disagrees with ", cfg_path,
                         " (", arch_value(s, key),
                         "). The architecture comes from "
                         "model.init_from; remove ",
                         key, " from the config");
    }
    m = s;
    const bool is_cls =
        !s.architectures.empty() && s.architectures[0] == "ElectraForSequenceClassification";
    if (is_cls && !cfg.reset_head) {
      const std::string why = head_mismatch(s, task, labels);
      ELECTRA_CHECK_USER(why.empty(), cfg_path, ": ", why,
                         ". Set model.reset_head=true to fine-tune its encoder with a fresh "
                         "head, or start from a pre-trained (not fine-tuned) model");
      plan.load_head = true;
      plan.head_note = "head loaded from " + src.model_dir;
    } else {
      plan.head_note = is_cls ? "fresh head (model.reset_head=true)"
                              : "fresh head (the source has no classification head)";
    }
    // The encoder of an ElectraForMaskedLM is a generator: legal, but rarely what is meant.
    if (!s.architectures.empty() && s.architectures[0] == "ElectraForMaskedLM")
      log::warn(
          "model.init_from is a generator (ElectraForMaskedLM); ELECTRA fine-tunes the "
          "discriminator");
  }
  // Fine-tuning dropouts apply whatever the source says (paper: 0.1).
  m.hidden_dropout_prob = cfg.arch.hidden_dropout_prob;
  m.attention_probs_dropout_prob = cfg.arch.attention_probs_dropout_prob;
  m.classifier_dropout = -1;
  m.architectures = {"ElectraForSequenceClassification"};
  m.num_labels = task.num_labels();
  m.id2label = task.regression ? std::vector<std::string>{"LABEL_0"} : labels;
  m.problem_type = task.regression ? "regression" : "single_label_classification";
  return plan;
}

void fit_tokenizer(ModelPlan& plan, const FinetuneConfig& cfg, int64_t tokenizer_vocab,
                   int32_t pad_id, const std::string& tokenizer_desc) {
  model::ElectraConfig& m = plan.config;
  if (m.vocab_size == 0) {  // random init with model.vocab_size: null
    m.vocab_size = tokenizer_vocab;
    m.pad_token_id = pad_id;
  }
  ELECTRA_CHECK_USER(tokenizer_vocab <= m.vocab_size, "the tokenizer ", tokenizer_desc, " has ",
                     tokenizer_vocab, " tokens but the model's vocabulary has ", m.vocab_size,
                     ": they do not belong together. Set data.tokenizer to the model's "
                     "vocabulary");
  if (tokenizer_vocab < m.vocab_size)
    log::info("the tokenizer has ", tokenizer_vocab, " tokens, the model's embedding table ",
              m.vocab_size, " rows (padded vocabularies are common)");
  ELECTRA_CHECK_USER(cfg.max_seq_len <= m.max_position_embeddings, "data.max_seq_len (",
                     cfg.max_seq_len, ") exceeds the model's max_position_embeddings (",
                     m.max_position_embeddings, ")");
  m.validate("fine-tuning model config");
}

model::ElectraForSequenceClassification build_model(const ModelPlan& plan, const InitSource& src) {
  model::ElectraForSequenceClassification net(plan.config);
  model::init_weights(*net, plan.config);
  if (src.model_dir.empty()) return net;
  const model::HfModel hf = model::read_hf_model(src.model_dir);
  model::load_encoder_weights(net->electra, hf);
  if (plan.load_head) {
    model::TensorMap head;
    for (const auto& [name, t] : hf.tensors)
      if (starts_with(name, "classifier.")) head[name.substr(11)] = t;
    model::load_state_dict(*net->classifier, head, hf.weights_file);
  }
  return net;
}

}  // namespace electra::finetune
