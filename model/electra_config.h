// ElectraConfig with HuggingFace's field names and defaults, read from and written to
// `config.json` so checkpoints move to and from `transformers` unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace electra::model {

struct ElectraConfig {
  int64_t vocab_size = 30522;
  int64_t embedding_size = 128;  // HF default is 128, not hidden_size
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 4;
  int64_t intermediate_size = 1024;
  std::string hidden_act = "gelu";  // exact erf GELU
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  bool tie_word_embeddings = true;
  std::string position_embedding_type = "absolute";
  // Sequence classification (ElectraForSequenceClassification).
  int64_t num_labels = 2;
  double classifier_dropout = -1.0;   // < 0: use hidden_dropout_prob (HF: null)
  std::string problem_type;           // "", "regression", "single_label_classification"
  std::vector<std::string> id2label;  // index -> label name (empty: LABEL_i)
  std::vector<std::string> architectures;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Throws UserError (naming `origin`) when the sizes are inconsistent.
  void validate(const std::string& origin) const;
};

// Parses HF config.json text; missing fields take HF defaults, `origin` names the file.
ElectraConfig config_from_json(const std::string& json_text, const std::string& origin);
ElectraConfig load_config_json(const std::string& path);
// Writes HF config.json text (model_type "electra", architectures, label maps).
std::string config_to_json(const ElectraConfig& cfg);

// The paper's generator sizing (google-research/electra get_generator_config): hidden size
// scaled by `fraction`, FFN = 4 x hidden, heads scaled with it (at least 1, and dividing the
// hidden size), same number of layers and the same (shared) embedding size.
ElectraConfig generator_config(const ElectraConfig& disc, double fraction);

}  // namespace electra::model
