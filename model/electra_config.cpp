#include "model/electra_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <type_traits>

#include "common/error.h"
#include "common/fs.h"
#include "common/json_int.h"

namespace electra::model {

using nlohmann::json;

void ElectraConfig::validate(const std::string& origin) const {
  auto positive = [&](const char* name, int64_t v) {
    ELECTRA_CHECK_USER(v > 0, origin, ": ", name, " must be positive, got ", v);
  };
  positive("vocab_size", vocab_size);
  positive("embedding_size", embedding_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  ELECTRA_CHECK_USER(hidden_size % num_attention_heads == 0, origin, ": hidden_size (", hidden_size,
                     ") must be a multiple of num_attention_heads (", num_attention_heads, ")");
  ELECTRA_CHECK_USER(position_embedding_type == "absolute", origin,
                     ": only position_embedding_type 'absolute' is supported, got '",
                     position_embedding_type, "'");
  ELECTRA_CHECK_USER(pad_token_id >= 0 && pad_token_id < vocab_size, origin, ": pad_token_id ",
                     pad_token_id, " is outside the vocabulary (size ", vocab_size, ")");
  for (double p : {hidden_dropout_prob, attention_probs_dropout_prob})
    ELECTRA_CHECK_USER(p >= 0.0 && p < 1.0, origin,
                       ": dropout probabilities must be in [0, 1), got ", p);
  ELECTRA_CHECK_USER(layer_norm_eps > 0, origin, ": layer_norm_eps must be positive");
  static const char* kActs[] = {
      "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish",
      "tanh", "linear"};
  bool known = false;
  for (const char* a : kActs)
    known = known || hidden_act == a;
  ELECTRA_CHECK_USER(
      known, origin, ": unsupported hidden_act '", hidden_act,
      "' (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu, "
      "silu, swish, tanh, linear)");
  ELECTRA_CHECK_USER(num_labels >= 1, origin, ": num_labels must be at least 1");
}

namespace {

template <class T>
void read_field(const json& j, const char* key, T* out, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      *out = json_int<T>(*it, cat(origin, ": field '", key, "'"));  // no float-to-int cast
    else
      *out = it->get<T>();
  } catch (const json::exception&) {
    throw_user(origin, ": field '", key, "' has the wrong type (", it->type_name(), ")");
  }
}

}  // namespace

ElectraConfig config_from_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw_user(origin, ": not valid JSON: ", e.what());
  }
  ELECTRA_CHECK_USER(j.is_object(), origin, ": expected a JSON object (an HF config.json)");
  if (j.contains("model_type") && j["model_type"].is_string()) {
    const std::string mt = j["model_type"];
    ELECTRA_CHECK_USER(mt == "electra", origin, ": model_type is '", mt, "', expected 'electra'");
  }
  ElectraConfig c;
  read_field(j, "vocab_size", &c.vocab_size, origin);
  read_field(j, "embedding_size", &c.embedding_size, origin);
  read_field(j, "hidden_size", &c.hidden_size, origin);
  read_field(j, "num_hidden_layers", &c.num_hidden_layers, origin);
  read_field(j, "num_attention_heads", &c.num_attention_heads, origin);
  read_field(j, "intermediate_size", &c.intermediate_size, origin);
  read_field(j, "hidden_act", &c.hidden_act, origin);
  read_field(j, "hidden_dropout_prob", &c.hidden_dropout_prob, origin);
  read_field(j, "attention_probs_dropout_prob", &c.attention_probs_dropout_prob, origin);
  read_field(j, "max_position_embeddings", &c.max_position_embeddings, origin);
  read_field(j, "type_vocab_size", &c.type_vocab_size, origin);
  read_field(j, "initializer_range", &c.initializer_range, origin);
  read_field(j, "layer_norm_eps", &c.layer_norm_eps, origin);
  read_field(j, "pad_token_id", &c.pad_token_id, origin);
  read_field(j, "tie_word_embeddings", &c.tie_word_embeddings, origin);
  read_field(j, "position_embedding_type", &c.position_embedding_type, origin);
  read_field(j, "classifier_dropout", &c.classifier_dropout, origin);
  read_field(j, "problem_type", &c.problem_type, origin);
  read_field(j, "architectures", &c.architectures, origin);
  // HF derives num_labels from id2label; an explicit num_labels wins.
  if (j.contains("id2label") && j["id2label"].is_object()) {
    const auto& m = j["id2label"];
    c.id2label.assign(m.size(), "");
    for (auto it = m.begin(); it != m.end(); ++it) {
      size_t idx = 0;
      try {
        idx = std::stoul(it.key());
      } catch (...) {
        throw_user(origin, ": id2label key '", it.key(), "' is not an integer");
      }
      ELECTRA_CHECK_USER(idx < m.size() && it.value().is_string(), origin,
                         ": id2label must map 0..n-1 to label names");
      c.id2label[idx] = it.value().get<std::string>();
    }
    c.num_labels = static_cast<int64_t>(c.id2label.size());
  }
  read_field(j, "num_labels", &c.num_labels, origin);
  c.validate(origin);
  return c;
}

ElectraConfig load_config_json(const std::string& path) {
  return config_from_json(fs::read_file(path, "model config"), path);
}

std::string config_to_json(const ElectraConfig& c) {
  json j;
  j["architectures"] = c.architectures;
  j["attention_probs_dropout_prob"] = c.attention_probs_dropout_prob;
  j["embedding_size"] = c.embedding_size;
  j["hidden_act"] = c.hidden_act;
  j["hidden_dropout_prob"] = c.hidden_dropout_prob;
  j["hidden_size"] = c.hidden_size;
  j["initializer_range"] = c.initializer_range;
  j["intermediate_size"] = c.intermediate_size;
  j["layer_norm_eps"] = c.layer_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["model_type"] = "electra";
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["pad_token_id"] = c.pad_token_id;
  j["position_embedding_type"] = c.position_embedding_type;
  j["summary_activation"] = "gelu";
  j["summary_last_dropout"] = 0.1;
  j["summary_type"] = "first";
  j["summary_use_proj"] = true;
  j["torch_dtype"] = "float32";
  j["type_vocab_size"] = c.type_vocab_size;
  j["vocab_size"] = c.vocab_size;
  if (!c.tie_word_embeddings) j["tie_word_embeddings"] = false;
  const bool is_cls =
      !c.architectures.empty() && c.architectures[0] == "ElectraForSequenceClassification";
  if (is_cls) {
    json id2label = json::object(), label2id = json::object();
    for (int64_t i = 0; i < c.num_labels; ++i) {
      const std::string name = i < static_cast<int64_t>(c.id2label.size()) && !c.id2label[i].empty()
                                   ? c.id2label[i]
                                   : "LABEL_" + std::to_string(i);
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
    j["classifier_dropout"] = c.classifier_dropout < 0 ? json(nullptr) : json(c.classifier_dropout);
    if (!c.problem_type.empty()) j["problem_type"] = c.problem_type;
  }
  return j.dump(2) + "\n";
}

ElectraConfig generator_config(const ElectraConfig& disc, double fraction) {
  ELECTRA_CHECK_USER(fraction > 0.0 && fraction <= 1.0,
                     "generator.size_fraction must be in (0, 1], got ", fraction);
  ElectraConfig g = disc;
  g.hidden_size = std::max<int64_t>(1, std::llround(disc.hidden_size * fraction));
  g.intermediate_size = 4 * g.hidden_size;
  if (fraction == 1.0) g.intermediate_size = disc.intermediate_size;
  int64_t heads = std::max<int64_t>(1, std::llround(disc.num_attention_heads * fraction));
  while (heads > 1 && g.hidden_size % heads != 0)
    --heads;
  g.num_attention_heads = heads;
  g.architectures = {"ElectraForMaskedLM"};
  return g;
}

}  // namespace electra::model
