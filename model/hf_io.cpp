#include "model/hf_io.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/torch_bin.h"
#include "model/weights.h"

namespace electra::model {

namespace {

// Buffers older transformers versions saved with the weights; no model parameter maps to them.
const char* const kLegacyBuffers[] = {"electra.embeddings.position_ids",
                                      "electra.embeddings.token_type_ids"};
constexpr const char* kLmHead = "generator_lm_head.weight";
constexpr const char* kWordEmbeddings = "electra.embeddings.word_embeddings.weight";

}  // namespace

WeightsFormat parse_weights_format(const std::string& name, const std::string& key) {
  if (name == "auto") return WeightsFormat::kAuto;
  if (name == "safetensors") return WeightsFormat::kSafetensors;
  if (name == "bin") return WeightsFormat::kBin;
  throw_user(key, " must be auto, safetensors or bin, got '", name, "'");
}

HfModel read_hf_model(const std::string& dir, WeightsFormat format) {
  ELECTRA_CHECK_USER(fs::is_dir(dir), "'", dir,
                     "' is not a model directory (expected "
                     "config.json + model.safetensors or pytorch_model.bin)");
  const std::string cfg_path = fs::join(dir, "config.json");
  ELECTRA_CHECK_USER(fs::exists(cfg_path), "'", dir,
                     "' has no config.json: it is not a "
                     "HuggingFace model directory");
  HfModel m;
  m.config = load_config_json(cfg_path);
  if (!m.config.architectures.empty())
    m.architecture = parse_architecture(m.config.architectures[0], cfg_path);
  const std::string st = fs::join(dir, "model.safetensors");
  const std::string bin = fs::join(dir, "pytorch_model.bin");
  if (format == WeightsFormat::kAuto) {
    ELECTRA_CHECK_USER(fs::exists(st) || fs::exists(bin), "'", dir,
                       "' has neither model.safetensors nor pytorch_model.bin (sharded "
                       "checkpoints are not supported)");
    format = fs::exists(st) ? WeightsFormat::kSafetensors : WeightsFormat::kBin;
  }
  m.weights_file = format == WeightsFormat::kSafetensors ? st : bin;
  ELECTRA_CHECK_USER(fs::exists(m.weights_file), "'", dir, "' has no ",
                     fs::basename(m.weights_file));
  m.tensors =
      format == WeightsFormat::kSafetensors ? read_safetensors(st).tensors : read_torch_bin(bin);
  for (const char* legacy : kLegacyBuffers) {
    if (m.tensors.erase(legacy)) m.notes.push_back(cat("ignored legacy buffer ", legacy));
  }
  return m;
}

void load_encoder_weights(ElectraModel& encoder, const HfModel& m) {
  TensorMap enc;
  for (const auto& [name, t] : m.tensors)
    if (starts_with(name, "electra.")) enc[name.substr(8)] = t;
  load_state_dict(*encoder, enc, m.weights_file);
}

void load_task_weights(torch::nn::Module& module, Architecture arch, const ElectraConfig& config,
                       HfModel& m) {
  if (arch == Architecture::kMaskedLM && config.tie_word_embeddings) {
    auto lm = m.tensors.find(kLmHead);
    auto emb = m.tensors.find(kWordEmbeddings);
    if (lm != m.tensors.end()) {
      // .bin files (and safetensors written without alias removal) carry the tied matrix
      // twice; HF's tie_weights makes the embeddings win, so do we.
      if (emb != m.tensors.end() &&
          (lm->second.sizes() != emb->second.sizes() ||
           !at::equal(lm->second.to(at::kFloat), emb->second.to(at::kFloat)))) {
        const std::string msg =
            cat("WARNING: tied ", kLmHead, " differs from ", kWordEmbeddings,
                "; word_embeddings wins (as HF tie_weights). Set \"tie_word_embeddings\": false "
                "in config.json if the head is meant to be separate");
        log::warn(m.weights_file, ": ", msg);
        m.notes.push_back(msg);
      }
      m.tensors.erase(lm);
    }
  }
  LoadOptions opt;
  for (const char* legacy : kLegacyBuffers)
    opt.ignore.insert(legacy);
  load_state_dict(module, m.tensors, m.weights_file, opt);
}

torch::nn::Module& TaskModel::module() {
  switch (architecture) {
    case Architecture::kPreTraining:
      return *discriminator;
    case Architecture::kMaskedLM:
      return *generator;
    case Architecture::kSequenceClassification:
      return *classifier;
  }
  throw std::logic_error("unknown architecture");
}

ElectraModel& TaskModel::encoder() {
  switch (architecture) {
    case Architecture::kPreTraining:
      return discriminator->electra;
    case Architecture::kMaskedLM:
      return generator->electra;
    case Architecture::kSequenceClassification:
      return classifier->electra;
  }
  throw std::logic_error("unknown architecture");
}

TaskOutput TaskModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                              const at::Tensor& token_type_ids, bool all_hidden_states,
                              at::ScalarType dt) {
  TaskOutput out;
  out.last_hidden_state = encoder()(input_ids, attention_mask, token_type_ids, dt,
                                    all_hidden_states ? &out.hidden_states : nullptr);
  const at::Tensor& h = out.last_hidden_state;  // [batch, seq, hidden]
  switch (architecture) {
    case Architecture::kPreTraining:
      out.logits = discriminator->discriminator_predictions(h, dt);  // [batch, seq]
      break;
    case Architecture::kMaskedLM:
      out.logits = generator->lm_logits(h, dt);  // [batch, seq, vocab]
      break;
    case Architecture::kSequenceClassification:
      out.logits = classifier->classifier(h, dt);  // [batch, num_labels]
      break;
  }
  return out;
}

TaskModel build_task_model(Architecture arch, const ElectraConfig& config) {
  TaskModel t;
  t.architecture = arch;
  t.config = config;
  t.config.architectures = {architecture_name(arch)};
  switch (arch) {
    case Architecture::kPreTraining:
      t.discriminator = ElectraForPreTraining(t.config);
      break;
    case Architecture::kMaskedLM:
      t.generator = ElectraForMaskedLM(t.config);
      break;
    case Architecture::kSequenceClassification:
      t.classifier = ElectraForSequenceClassification(t.config);
      break;
  }
  init_weights(t.module(), t.config);
  return t;
}

TaskModel load_hf_model(const std::string& dir, WeightsFormat format) {
  HfModel m = read_hf_model(dir, format);
  TaskModel t = build_task_model(m.architecture, m.config);
  load_task_weights(t.module(), t.architecture, t.config, m);
  t.weights_file = m.weights_file;
  t.notes = std::move(m.notes);
  return t;
}

void write_hf_model(const std::string& dir, const torch::nn::Module& module,
                    const ElectraConfig& config) {
  fs::ensure_writable_dir(dir, "output directory");
  fs::write_file_atomic(fs::join(dir, "config.json"), config_to_json(config));
  write_safetensors(fs::join(dir, "model.safetensors"), state_dict(module), {{"format", "pt"}});
}

}  // namespace electra::model
