#include "pretrain/init_from.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/hf_io.h"
#include "model/weights.h"
#include "pretrain/checkpoint.h"

namespace electra::pretrain {
namespace {

using model::Architecture;
using model::ElectraConfig;

// Every size that shapes a weight, with the config key that sets it for each model.
struct SizeField {
  const char* name;
  int64_t ElectraConfig::*field;
  const char* disc_key;
  const char* gen_key;  // the generator's width follows generator.size_fraction
};

const SizeField kSizes[] = {
    {"vocab_size", &ElectraConfig::vocab_size, "model.vocab_size", "model.vocab_size"},
    {"embedding_size", &ElectraConfig::embedding_size, "model.embedding_size",
     "model.embedding_size"},
    {"hidden_size", &ElectraConfig::hidden_size, "model.hidden_size",
     "generator.size_fraction (x model.hidden_size)"},
    {"num_hidden_layers", &ElectraConfig::num_hidden_layers, "model.num_hidden_layers",
     "model.num_hidden_layers"},
    {"num_attention_heads", &ElectraConfig::num_attention_heads, "model.num_attention_heads",
     "generator.size_fraction (x model.num_attention_heads)"},
    {"intermediate_size", &ElectraConfig::intermediate_size, "model.intermediate_size",
     "generator.size_fraction (4 x the generator's hidden size)"},
    {"max_position_embeddings", &ElectraConfig::max_position_embeddings,
     "model.max_position_embeddings", "model.max_position_embeddings"},
    {"type_vocab_size", &ElectraConfig::type_vocab_size, "model.type_vocab_size",
     "model.type_vocab_size"},
};

// One HF directory into one model of the pair.
void load_part(const std::string& dir, bool generator, torch::nn::Module& module,
               const ElectraConfig& configured, std::vector<std::string>* notes) {
  const char* part = generator ? "generator" : "discriminator";
  const Architecture want = generator ? Architecture::kMaskedLM : Architecture::kPreTraining;
  model::HfModel m = model::read_hf_model(dir);
  ELECTRA_CHECK_USER(m.architecture == want, "model.init_from: '", dir, "' holds an ",
                     model::architecture_name(m.architecture), " but the ", part, " needs an ",
                     model::architecture_name(want));
  for (const auto& s : kSizes) {
    const int64_t have = m.config.*(s.field), need = configured.*(s.field);
    ELECTRA_CHECK_USER(have == need, "model.init_from: '", dir, "/config.json' has ", s.name, " ",
                       have, " but the configured ", part, " has ", need, ". Set ",
                       generator ? s.gen_key : s.disc_key,
                       " to match it, or start from a checkpoint of this size");
  }
  if (generator)
    ELECTRA_CHECK_USER(m.config.tie_word_embeddings, "model.init_from: '", dir,
                       "' has an untied generator_lm_head (tie_word_embeddings: false), but "
                       "the pretraining generator's output layer is the shared embedding table");
  if (m.config.hidden_act != configured.hidden_act ||
      m.config.layer_norm_eps != configured.layer_norm_eps) {
    notes->push_back(cat("'", dir, "/config.json' has hidden_act ", m.config.hidden_act,
                         " and layer_norm_eps ", m.config.layer_norm_eps, "; the configured ", part,
                         " uses ", configured.hidden_act, " and ", configured.layer_norm_eps,
                         " (model.hidden_act, model.layer_norm_eps)"));
    log::warn("model.init_from: ", notes->back());
  }
  model::load_task_weights(module, want, configured, m);
  for (const auto& note : m.notes)
    log::info("model.init_from: ", dir, ": ", note);
  notes->insert(notes->end(), m.notes.begin(), m.notes.end());
}

// Both models; the discriminator is loaded last so the shared embeddings hold its copy.
void load_both(const std::string& disc_dir, const std::string& gen_dir,
               model::PretrainingPair& pair, std::vector<std::string>* notes) {
  load_part(gen_dir, true, *pair.generator, pair.generator->config, notes);
  model::TensorMap gen_emb;  // a copy: the discriminator's load overwrites the shared storage
  for (const auto& [name, t] : model::state_dict(*pair.generator->electra->embeddings))
    gen_emb[name] = t.clone();
  load_part(disc_dir, false, *pair.discriminator, pair.discriminator->config, notes);
  std::vector<std::string> differ;
  for (const auto& [name, t] : model::state_dict(*pair.discriminator->electra->embeddings))
    if (!at::equal(gen_emb.at(name), t)) differ.push_back("electra.embeddings." + name);
  if (!differ.empty()) {
    notes->push_back(cat("the generator's ", join(differ, ", "), " (", gen_dir,
                         ") differ from the discriminator's (", disc_dir,
                         "); ELECTRA shares one embedding block, the discriminator's is used"));
    log::warn("model.init_from: ", notes->back());
  }
  log::info("model.init_from: discriminator from ", disc_dir, ", generator from ", gen_dir);
}

}  // namespace

std::vector<std::string> init_pair_from(const std::string& spec, model::PretrainingPair& pair) {
  std::vector<std::string> notes;
  ELECTRA_CHECK_USER(!spec.empty(), "model.init_from is empty");
  const size_t comma = spec.find(',');
  if (comma != std::string::npos) {  // (d)
    const std::string_view s(spec);
    const std::string disc(trim(s.substr(0, comma))), gen(trim(s.substr(comma + 1)));
    ELECTRA_CHECK_USER(!disc.empty() && !gen.empty() && gen.find(',') == std::string::npos,
                       "model.init_from '", spec, "': a pair is written DISC_DIR,GEN_DIR");
    load_both(disc, gen, pair, &notes);
    return notes;
  }
  ELECTRA_CHECK_USER(fs::is_dir(spec), "model.init_from '", spec, "' is not a directory");
  std::string dir = spec;
  if (!fs::exists(fs::join(dir, "config.json")) && !fs::is_dir(fs::join(dir, "discriminator"))) {
    // A run's output.dir: its newest complete checkpoint.
    if (auto latest = latest_checkpoint(fs::join(dir, "checkpoints"))) dir = *latest;
  }
  if (fs::is_dir(fs::join(dir, "discriminator")) &&
      fs::is_dir(fs::join(dir, "generator"))) {  // (a)
    if (is_complete_checkpoint(dir)) verify_checkpoint(dir);
    load_both(fs::join(dir, "discriminator"), fs::join(dir, "generator"), pair, &notes);
    return notes;
  }
  ELECTRA_CHECK_USER(fs::exists(fs::join(dir, "config.json")), "model.init_from '", spec,
                     "' is neither an HF model directory (config.json), nor a checkpoint with "
                     "discriminator/ and generator/, nor a run directory with checkpoints/, "
                     "nor a DISC_DIR,GEN_DIR pair");
  const model::ElectraConfig cfg = model::load_config_json(fs::join(dir, "config.json"));
  const Architecture arch =
      cfg.architectures.empty()
          ? Architecture::kPreTraining
          : model::parse_architecture(cfg.architectures[0], fs::join(dir, "config.json"));
  if (arch == Architecture::kPreTraining) {  // (b)
    load_part(dir, false, *pair.discriminator, pair.discriminator->config, &notes);
    log::info("model.init_from: discriminator (and the shared embeddings) from ", dir,
              "; the rest of the generator starts from its fresh initialisation");
  } else if (arch == Architecture::kMaskedLM) {  // (c)
    load_part(dir, true, *pair.generator, pair.generator->config, &notes);
    log::info("model.init_from: generator (and the shared embeddings) from ", dir,
              "; the rest of the discriminator starts from its fresh initialisation");
  } else {
    throw_user("model.init_from '", dir, "' is an ", model::architecture_name(arch),
               " (a fine-tuned model); pretraining starts from an ElectraForPreTraining and/or "
               "ElectraForMaskedLM");
  }
  return notes;
}

}  // namespace electra::pretrain
