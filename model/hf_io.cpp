#include "model/hf_io.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "model/weights.h"

namespace electra::model {

HfModel read_hf_model(const std::string& dir) {
  ELECTRA_CHECK_USER(fs::is_dir(dir), "'", dir,
                     "' is not a model directory (expected "
                     "config.json + model.safetensors)");
  const std::string cfg_path = fs::join(dir, "config.json");
  ELECTRA_CHECK_USER(fs::exists(cfg_path), "'", dir,
                     "' has no config.json: it is not a "
                     "HuggingFace model directory");
  HfModel m;
  m.config = load_config_json(cfg_path);
  if (!m.config.architectures.empty())
    m.architecture = parse_architecture(m.config.architectures[0], cfg_path);
  const std::string st = fs::join(dir, "model.safetensors");
  ELECTRA_CHECK_USER(fs::exists(st), "'", dir, "' has no model.safetensors");
  m.weights_file = st;
  m.tensors = read_safetensors(st).tensors;
  m.tensors.erase("electra.embeddings.position_ids");
  return m;
}

void load_encoder_weights(ElectraModel& encoder, const HfModel& m) {
  TensorMap enc;
  for (const auto& [name, t] : m.tensors)
    if (starts_with(name, "electra.")) enc[name.substr(8)] = t;
  load_state_dict(*encoder, enc, m.weights_file);
}

void write_hf_model(const std::string& dir, const torch::nn::Module& module,
                    const ElectraConfig& config) {
  fs::ensure_writable_dir(dir, "output directory");
  fs::write_file_atomic(fs::join(dir, "config.json"), config_to_json(config));
  write_safetensors(fs::join(dir, "model.safetensors"), state_dict(module), {{"format", "pt"}});
}

}  // namespace electra::model
