// The task models with HuggingFace's names and shapes:
//   ElectraForPreTraining            (discriminator: electra + discriminator_predictions)
//   ElectraForMaskedLM               (generator: electra + generator_predictions +
//   generator_lm_head) ElectraForSequenceClassification (electra + classifier)
// and the pretraining pair whose generator shares the discriminator's embedding block.
#pragma once

#include <memory>
#include <string>

#include "model/electra_config.h"
#include "model/encoder.h"

namespace electra::model {

class DiscriminatorPredictionsImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorPredictionsImpl(const ElectraConfig& cfg);
  // [batch, seq, hidden] -> [batch, seq] logits (fp32)
  at::Tensor forward(const at::Tensor& h, at::ScalarType dt);

  torch::nn::Linear dense{nullptr}, dense_prediction{nullptr};
  Activation act;
};
TORCH_MODULE(DiscriminatorPredictions);

class GeneratorPredictionsImpl : public torch::nn::Module {
 public:
  explicit GeneratorPredictionsImpl(const ElectraConfig& cfg);
  // [..., hidden] -> [..., embedding] fp32 (dense -> gelu -> LayerNorm; HF hard-codes gelu)
  at::Tensor forward(const at::Tensor& h, at::ScalarType dt);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(GeneratorPredictions);

// generator_lm_head: logits = x W^T + bias where W is the word-embedding table when tied (the
// ELECTRA default) or its own "weight" parameter when tie_word_embeddings is false.
class LmHeadImpl : public torch::nn::Module {
 public:
  LmHeadImpl(const ElectraConfig& cfg, bool tied);
  // x: [n, embedding] -> [n, vocab] fp32, or in dt when !widen (the product's own output).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& tied_weight, at::ScalarType dt,
                     bool widen = true);

  at::Tensor weight;  // undefined when tied
  at::Tensor bias;    // [vocab]
};
TORCH_MODULE(LmHead);

class ClassificationHeadImpl : public torch::nn::Module {
 public:
  explicit ClassificationHeadImpl(const ElectraConfig& cfg);
  // [batch, seq, hidden] -> [batch, num_labels] from the [CLS] position
  at::Tensor forward(const at::Tensor& h, at::ScalarType dt);

  torch::nn::Linear dense{nullptr}, out_proj{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ClassificationHead);

class ElectraForPreTrainingImpl : public torch::nn::Module {
 public:
  explicit ElectraForPreTrainingImpl(const ElectraConfig& cfg);
  // -> [batch, seq] replaced-token logits; `hidden` receives the last hidden state.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, at::ScalarType dt = at::kFloat,
                     at::Tensor* hidden = nullptr);

  ElectraConfig config;
  ElectraModel electra{nullptr};
  DiscriminatorPredictions discriminator_predictions{nullptr};
};
TORCH_MODULE(ElectraForPreTraining);

class ElectraForMaskedLMImpl : public torch::nn::Module {
 public:
  // `shared`: the discriminator's embedding block, or nullptr for a standalone generator.
  explicit ElectraForMaskedLMImpl(const ElectraConfig& cfg, ElectraEmbeddings shared = nullptr);
  // MLM logits for selected hidden states: [n, hidden] -> [n, vocab]. Callers gather the masked
  // positions first so that no [batch, seq, vocab] tensor is ever built in training.
  // In fp32, or with widen false in dt (for consumers that read bf16 themselves: the CPU's MLM
  // loss and Gumbel sampling, pretrain/mlm_loss.h).
  at::Tensor lm_logits(const at::Tensor& hidden, at::ScalarType dt, bool widen = true);
  // Full forward (tools and parity only): -> [batch, seq, vocab].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, at::ScalarType dt = at::kFloat,
                     at::Tensor* hidden = nullptr);
  const at::Tensor& output_weight() const;  // [vocab, embedding]

  ElectraConfig config;
  ElectraModel electra{nullptr};
  GeneratorPredictions generator_predictions{nullptr};
  LmHead generator_lm_head{nullptr};
};
TORCH_MODULE(ElectraForMaskedLM);

class ElectraForSequenceClassificationImpl : public torch::nn::Module {
 public:
  explicit ElectraForSequenceClassificationImpl(const ElectraConfig& cfg);
  // -> [batch, num_labels]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids, at::ScalarType dt = at::kFloat,
                     at::Tensor* hidden = nullptr);

  ElectraConfig config;
  ElectraModel electra{nullptr};
  ClassificationHead classifier{nullptr};
};
TORCH_MODULE(ElectraForSequenceClassification);

// The RTD pair: the generator's "electra.embeddings" is the discriminator's module (word,
// position, token-type embeddings and their LayerNorm), and its output matrix is the shared
// word-embedding table. Its embeddings_project (when emb != gen hidden) is its own.
struct PretrainingPair {
  ElectraForPreTraining discriminator{nullptr};
  ElectraForMaskedLM generator{nullptr};
};
// Builds and initialises the pair (HF init, default torch generator: seed it first).
PretrainingPair make_pretraining_pair(const ElectraConfig& disc, const ElectraConfig& gen);

// Parameters of several modules with shared tensors counted once, with the name they have in
// the first module that owns them (prefixed "discriminator." / "generator.").
std::vector<std::pair<std::string, at::Tensor>> unique_parameters(const PretrainingPair& pair);

// Architecture names as they appear in config.json "architectures".
enum class Architecture { kPreTraining, kMaskedLM, kSequenceClassification };
Architecture parse_architecture(const std::string& name, const std::string& origin);
const char* architecture_name(Architecture a);

}  // namespace electra::model
