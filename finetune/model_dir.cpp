#include "finetune/model_dir.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/json_int.h"
#include "model/hf_io.h"
#include "model/weights.h"
#include "pretrain/checkpoint.h"

namespace electra::finetune {

using nlohmann::json;

void write_finetuned_model(const std::string& dir,
                           const model::ElectraForSequenceClassification& net,
                           const data::Tokenizer& tokenizer, const FinetunedInfo& info) {
  fs::StagedDir staged(dir);
  fs::write_file(staged.file("config.json"), model::config_to_json(net->config));
  fs::write_file(staged.file("model.safetensors"),
                 model::serialize_safetensors(model::state_dict(*net), {{"format", "pt"}}));
  if (!tokenizer.files().empty()) pretrain::write_tokenizer_files(tokenizer, staged.path());
  nlohmann::ordered_json j;
  j["task"] = info.task;
  j["max_seq_len"] = info.max_seq_len;
  j["step"] = info.step;
  j["seed"] = info.seed;
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (const auto& [k, v] : info.metrics)
    m[k] = v;
  j["dev_metrics"] = m;
  fs::write_file(staged.file("finetune.json"), j.dump(2) + "\n");
  staged.commit();
}

LoadedClassifier read_finetuned_model(const std::string& dir) {
  const model::HfModel hf = model::read_hf_model(dir);
  ELECTRA_CHECK_USER(hf.architecture == model::Architecture::kSequenceClassification, dir,
                     " holds an ", model::architecture_name(hf.architecture),
                     ", not a fine-tuned ElectraForSequenceClassification; fine-tune it first "
                     "with `electra finetune`");
  LoadedClassifier out;
  out.net = model::ElectraForSequenceClassification(hf.config);
  model::load_state_dict(*out.net, hf.tensors, hf.weights_file);
  const std::string info_path = fs::join(dir, "finetune.json");
  if (fs::exists(info_path)) {
    try {
      const json j = json::parse(fs::read_file(info_path, "finetune.json"));
      out.info.task = j.at("task").get<std::string>();
      out.info.max_seq_len = json_int<int64_t>(j, "max_seq_len", info_path);
      out.info.step = json_int_or<int64_t>(j, "step", 0, info_path);
      out.info.seed = json_int_or<int64_t>(j, "seed", 0, info_path);
      out.has_info = true;
    } catch (const json::exception& e) {
      throw_user(info_path, ": corrupt (", e.what(), ")");
    }
  }
  return out;
}

}  // namespace electra::finetune
