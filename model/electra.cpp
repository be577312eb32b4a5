#include "model/electra.h"

#include <unordered_set>

#include "common/error.h"
#include "model/cuda_linear.h"

namespace electra::model {
namespace {

// The generator's vocabulary is padded to this many rows inside its product on CUDA
// (model/cuda_linear.h): 64 bf16 values are 128 bytes, and BERT's 30,522 becomes 30,528.
constexpr int64_t kVocabPadMultiple = 64;

}  // namespace

DiscriminatorPredictionsImpl::DiscriminatorPredictionsImpl(const ElectraConfig& c)
    : act(parse_activation(c.hidden_act)) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dense_prediction = register_module("dense_prediction", torch::nn::Linear(c.hidden_size, 1));
}

at::Tensor DiscriminatorPredictionsImpl::forward(const at::Tensor& h, at::ScalarType dt) {
  at::Tensor x = activate(act, linear(dense, h, dt));
  return linear(dense_prediction, x, dt).squeeze(-1).to(at::kFloat);  // [batch, seq]
}

GeneratorPredictionsImpl::GeneratorPredictionsImpl(const ElectraConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.embedding_size));
  LayerNorm = register_module(
      "LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embedding_size}).eps(c.layer_norm_eps)));
}

at::Tensor GeneratorPredictionsImpl::forward(const at::Tensor& h, at::ScalarType dt) {
  return layer_norm(LayerNorm, at::gelu(linear(dense, h, dt)));
}

LmHeadImpl::LmHeadImpl(const ElectraConfig& c, bool tied) {
  // init_weights() knows only Linear/Embedding/LayerNorm, so the untied matrix is
  // initialised here (HF: N(0, initializer_range)).
  if (!tied)
    weight = register_parameter(
        "weight", at::empty({c.vocab_size, c.embedding_size}).normal_(0.0, c.initializer_range));
  bias = register_parameter("bias", at::zeros({c.vocab_size}));
}

at::Tensor LmHeadImpl::forward(const at::Tensor& x, const at::Tensor& tied_weight,
                               at::ScalarType dt, bool widen) {
  const at::Tensor& w = weight.defined() ? weight : tied_weight;  // [vocab, emb]
  // model::linear: in bf16 training the fp32 weight's gradient straight from the bf16 product
  // (model/bf16_linear.h), without evaluation's casts of the [vocab, emb] matrix each call.
  const at::Tensor xd = x.to(dt);  // [rows, emb]
  const at::Tensor logits = pad_vocab_enabled(xd)
                                ? padded_vocab_linear(xd, w, bias, kVocabPadMultiple)
                                : linear(xd, w, bias);  // [rows, vocab] in dt
  return widen ? logits.to(at::kFloat) : logits;
}

ClassificationHeadImpl::ClassificationHeadImpl(const ElectraConfig& c) {
  const double p = c.classifier_dropout >= 0 ? c.classifier_dropout : c.hidden_dropout_prob;
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(p));
  out_proj = register_module("out_proj", torch::nn::Linear(c.hidden_size, c.num_labels));
}

at::Tensor ClassificationHeadImpl::forward(const at::Tensor& h, at::ScalarType dt) {
  using torch::indexing::Slice;
  at::Tensor x =
      model::dropout(dropout, h.index({Slice(), 0, Slice()}));  // [batch, hidden] at [CLS]
  x = at::gelu(linear(dense, x, dt));                           // HF hard-codes gelu here
  x = model::dropout(dropout, x);
  return linear(out_proj, x, dt).to(at::kFloat);  // [batch, num_labels]
}

ElectraForPreTrainingImpl::ElectraForPreTrainingImpl(const ElectraConfig& c) : config(c) {
  electra = register_module("electra", ElectraModel(c));
  discriminator_predictions =
      register_module("discriminator_predictions", DiscriminatorPredictions(c));
}

at::Tensor ElectraForPreTrainingImpl::forward(const at::Tensor& input_ids,
                                              const at::Tensor& attention_mask,
                                              const at::Tensor& token_type_ids, at::ScalarType dt,
                                              at::Tensor* hidden) {
  at::Tensor h = electra(input_ids, attention_mask, token_type_ids, dt);
  if (hidden) *hidden = h;
  return discriminator_predictions(h, dt);
}

ElectraForMaskedLMImpl::ElectraForMaskedLMImpl(const ElectraConfig& c, ElectraEmbeddings shared)
    : config(c) {
  electra = register_module("electra", ElectraModel(c, shared));
  generator_predictions = register_module("generator_predictions", GeneratorPredictions(c));
  generator_lm_head = register_module("generator_lm_head", LmHead(c, c.tie_word_embeddings));
}

const at::Tensor& ElectraForMaskedLMImpl::output_weight() const {
  return generator_lm_head->weight.defined() ? generator_lm_head->weight
                                             : electra->embeddings->word_embeddings->weight;
}

at::Tensor ElectraForMaskedLMImpl::lm_logits(const at::Tensor& hidden, at::ScalarType dt,
                                             bool widen) {
  at::Tensor e = generator_predictions(hidden, dt);  // [n, emb] fp32
  return generator_lm_head(e, electra->embeddings->word_embeddings->weight, dt, widen);
}

at::Tensor ElectraForMaskedLMImpl::forward(const at::Tensor& input_ids,
                                           const at::Tensor& attention_mask,
                                           const at::Tensor& token_type_ids, at::ScalarType dt,
                                           at::Tensor* hidden) {
  at::Tensor h = electra(input_ids, attention_mask, token_type_ids, dt);
  if (hidden) *hidden = h;
  return lm_logits(h, dt);
}

ElectraForSequenceClassificationImpl::ElectraForSequenceClassificationImpl(const ElectraConfig& c)
    : config(c) {
  electra = register_module("electra", ElectraModel(c));
  classifier = register_module("classifier", ClassificationHead(c));
}

at::Tensor ElectraForSequenceClassificationImpl::forward(const at::Tensor& input_ids,
                                                         const at::Tensor& attention_mask,
                                                         const at::Tensor& token_type_ids,
                                                         at::ScalarType dt, at::Tensor* hidden) {
  at::Tensor h = electra(input_ids, attention_mask, token_type_ids, dt);
  if (hidden) *hidden = h;
  return classifier(h, dt);
}

PretrainingPair make_pretraining_pair(const ElectraConfig& disc, const ElectraConfig& gen) {
  for (auto [name, a, b] :
       {std::tuple<const char*, int64_t, int64_t>{"embedding_size", disc.embedding_size,
                                                  gen.embedding_size},
        {"vocab_size", disc.vocab_size, gen.vocab_size},
        {"max_position_embeddings", disc.max_position_embeddings, gen.max_position_embeddings},
        {"type_vocab_size", disc.type_vocab_size, gen.type_vocab_size}}) {
    ELECTRA_CHECK_USER(a == b, "the generator shares the discriminator's embeddings, so ", name,
                       " must match: discriminator ", a, ", generator ", b);
  }
  ElectraConfig dcfg = disc;
  dcfg.architectures = {"ElectraForPreTraining"};
  ElectraConfig gcfg = gen;
  gcfg.architectures = {"ElectraForMaskedLM"};
  gcfg.tie_word_embeddings = true;
  PretrainingPair pair;
  pair.discriminator = ElectraForPreTraining(dcfg);
  init_weights(*pair.discriminator, dcfg);
  pair.generator = ElectraForMaskedLM(gcfg, pair.discriminator->electra->embeddings);
  // Initialise only the generator's own modules: the shared block is already initialised.
  for (auto& child : pair.generator->named_children()) {
    if (child.key() == "electra") {
      for (auto& sub : child.value()->named_children())
        if (sub.key() != "embeddings") init_weights(*sub.value(), gcfg);
    } else {
      init_weights(*child.value(), gcfg);
    }
  }
  return pair;
}

std::vector<std::pair<std::string, at::Tensor>> unique_parameters(const PretrainingPair& pair) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::unordered_set<const void*> seen;
  auto add = [&](const std::string& prefix, const torch::nn::Module& m) {
    for (const auto& p : m.named_parameters()) {
      if (seen.insert(p.value().unsafeGetTensorImpl()).second)
        out.emplace_back(prefix + p.key(), p.value());
    }
  };
  add("discriminator.", *pair.discriminator);
  add("generator.", *pair.generator);
  return out;
}

Architecture parse_architecture(const std::string& name, const std::string& origin) {
  if (name == "ElectraForPreTraining") return Architecture::kPreTraining;
  if (name == "ElectraForMaskedLM") return Architecture::kMaskedLM;
  if (name == "ElectraForSequenceClassification") return Architecture::kSequenceClassification;
  throw_user(origin, ": unsupported architecture '", name,
             "' (supported: ElectraForPreTraining, ElectraForMaskedLM, "
             "ElectraForSequenceClassification)");
}

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::kPreTraining:
      return "ElectraForPreTraining";
    case Architecture::kMaskedLM:
      return "ElectraForMaskedLM";
    case Architecture::kSequenceClassification:
      return "ElectraForSequenceClassification";
  }
  return "?";
}

}  // namespace electra::model
