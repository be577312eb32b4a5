#include "model/tf_electra.h"

#include <ATen/ATen.h>

#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/electra.h"
#include "model/hf_io.h"
#include "model/tf_checkpoint.h"
#include "model/weights.h"

namespace electra::model {
namespace {

const char* part_name(ElectraPart p) {
  return p == ElectraPart::kDiscriminator ? "discriminator" : "generator";
}

// "encoder/layer_3/attention/output/dense/kernel" ->
// "encoder.layer.3.attention.output.dense.weight" (transpose set for kernels). Returns false for a
// component it cannot map.
bool map_components(std::string_view rest, std::string* out, bool* transpose) {
  const std::vector<std::string> parts = split(rest, '/');
  *transpose = false;
  out->clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string c = parts[i];
    const bool last = i + 1 == parts.size();
    if (c.empty()) return false;
    if (starts_with(c, "layer_") && c.size() > 6 &&
        c.find_first_not_of("0123456789", 6) == std::string::npos) {
      c = "layer." + c.substr(6);
    } else if (last && c == "kernel") {
      c = "weight";
      *transpose = true;
    } else if (last && c == "gamma") {
      c = "weight";
    } else if (last && c == "beta") {
      c = "bias";
    } else if (last && ends_with(c, "_embeddings")) {
      c += ".weight";
    }
    if (!out->empty()) out->push_back('.');
    *out += c;
  }
  return true;
}

std::string listing(const std::vector<std::string>& names) {
  std::ostringstream os;
  const size_t shown = std::min<size_t>(names.size(), 30);
  for (size_t i = 0; i < shown; ++i)
    os << "\n  " << names[i];
  if (names.size() > shown) os << "\n  ... (" << names.size() - shown << " more)";
  return os.str();
}

}  // namespace

ElectraPart parse_electra_part(const std::string& name, const std::string& key) {
  if (name == "discriminator") return ElectraPart::kDiscriminator;
  if (name == "generator") return ElectraPart::kGenerator;
  throw_user(key, " must be 'discriminator' or 'generator', got '", name, "'");
}

TfNameMapping map_tf_electra_names(const std::vector<std::string>& tf_names, ElectraPart part) {
  TfNameMapping m;
  const bool disc = part == ElectraPart::kDiscriminator;
  for (const std::string& name : tf_names) {
    if (name == "global_step" || ends_with(name, "/adam_m") || ends_with(name, "/adam_v")) {
      m.skipped.push_back(name);
      continue;
    }
    // Which part owns the variable, and its HF scope.
    bool for_disc = false, for_gen = false;
    std::string scope, rest;
    if (starts_with(name, "electra/embeddings/")) {
      for_disc = for_gen = true;  // the generator shares the discriminator's embeddings
      scope = "electra.embeddings", rest = name.substr(19);
    } else if (starts_with(name, "electra/")) {
      for_disc = true, scope = "electra", rest = name.substr(8);
    } else if (starts_with(name, "generator/")) {
      for_gen = true, scope = "electra", rest = name.substr(10);
    } else if (starts_with(name, "discriminator_predictions/")) {
      for_disc = true, scope = "discriminator_predictions", rest = name.substr(26);
      if (starts_with(rest, "dense_1/")) rest = "dense_prediction/" + rest.substr(8);
    } else if (name == "generator_predictions/output_bias") {
      for_gen = true, scope = "generator_lm_head", rest = "bias";
    } else if (starts_with(name, "generator_predictions/")) {
      for_gen = true, scope = "generator_predictions", rest = name.substr(22);
    } else {
      m.unmapped.push_back(name);
      continue;
    }
    if (disc ? !for_disc : !for_gen) {
      m.other_part.push_back(name);
      continue;
    }
    std::string hf;
    bool transpose = false;
    if (!map_components(rest, &hf, &transpose)) {
      m.unmapped.push_back(name);
      continue;
    }
    hf = scope + "." + hf;
    auto [it, fresh] = m.hf.emplace(hf, TfNameMapping::Target{name, transpose});
    if (!fresh) {
      // A generator with embeddings of its own (generator/embeddings/...) takes them over the
      // shared electra/embeddings; any other collision is two TF names for one weight.
      const bool own = starts_with(name, "generator/embeddings/");
      const bool had_own = starts_with(it->second.tf_name, "generator/embeddings/");
      ELECTRA_CHECK_USER(own != had_own, "two TF variables map to ", hf, ": ", it->second.tf_name,
                         " and ", name);
      if (own) {
        m.other_part.push_back(it->second.tf_name);
        it->second = TfNameMapping::Target{name, transpose};
      } else {
        m.other_part.push_back(name);
      }
    }
  }
  return m;
}

void convert_tf_electra(const std::string& tf_prefix, const std::string& config_json,
                        ElectraPart part, const std::string& out_dir) {
  TfCheckpoint ckpt(tf_prefix);
  std::vector<std::string> names;
  for (const auto& v : ckpt.variables())
    names.push_back(v.name);
  const TfNameMapping m = map_tf_electra_names(names, part);
  const std::string origin = ckpt.prefix() + ".index";
  ELECTRA_CHECK_USER(m.unmapped.empty(), origin, ": ", m.unmapped.size(),
                     " variables have no HuggingFace ELECTRA name (an official ELECTRA "
                     "checkpoint has electra/, generator/, discriminator_predictions/, "
                     "generator_predictions/ and optimizer state only):",
                     listing(m.unmapped));
  ELECTRA_CHECK_USER(!m.hf.empty(), origin, ": no ", part_name(part),
                     " weights found; is this an ELECTRA pre-training checkpoint?");

  ElectraConfig cfg = load_config_json(config_json);
  cfg.validate(config_json);
  std::shared_ptr<torch::nn::Module> module;
  if (part == ElectraPart::kDiscriminator) {
    cfg.architectures = {architecture_name(Architecture::kPreTraining)};
    module = ElectraForPreTraining(cfg).ptr();
  } else {
    cfg.architectures = {architecture_name(Architecture::kMaskedLM)};
    module = ElectraForMaskedLM(cfg).ptr();
  }

  // Keys and shapes first, from the index alone (zero-stride placeholders allocate nothing),
  // so that a config that does not fit fails before any data is read.
  const std::string what = cat(origin, " (", part_name(part), ", with ", config_json, ")");
  TensorMap shapes;
  for (const auto& [hf, target] : m.hf) {
    std::vector<int64_t> shape = ckpt.get(target.tf_name).shape;
    if (target.transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
    shapes[hf] = at::zeros({}).expand(shape);
  }
  load_state_dict(*module, shapes, what);

  TensorMap tensors;
  for (const auto& [hf, target] : m.hf) {
    at::Tensor t = ckpt.read(target.tf_name);
    if (target.transpose) {
      ELECTRA_CHECK_USER(t.dim() == 2, origin, ": kernel '", target.tf_name, "' has ", t.dim(),
                         " dimensions; a dense kernel has 2");
      t = t.t().contiguous();  // TF [in, out] -> torch [out, in]
    }
    tensors[hf] = t;
  }
  load_state_dict(*module, tensors, what);
  write_hf_model(out_dir, *module, cfg);
  log::info("converted ", m.hf.size(), " TF variables (", part_name(part), ") of ", ckpt.prefix(),
            "; skipped ", m.skipped.size(), " optimizer/step variables and ", m.other_part.size(),
            " of the other network");
}

}  // namespace electra::model
