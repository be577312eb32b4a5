#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "model/electra.h"
#include "model/electra_config.h"
#include "model/hf_io.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace electra::model {
namespace {

ElectraConfig tiny(int64_t emb = 16, int64_t hidden = 32) {
  ElectraConfig c;
  c.vocab_size = 50;
  c.embedding_size = emb;
  c.hidden_size = hidden;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 64;
  c.max_position_embeddings = 16;
  return c;
}

// HF's state-dict keys, written out independently of the module tree.
std::set<std::string> hf_keys(const ElectraConfig& c, const std::string& arch) {
  std::set<std::string> k;
  for (const char* n : {"word_embeddings.weight", "position_embeddings.weight",
                        "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"})
    k.insert(std::string("electra.embeddings.") + n);
  if (c.embedding_size != c.hidden_size) {
    k.insert("electra.embeddings_project.weight");
    k.insert("electra.embeddings_project.bias");
  }
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "electra.encoder.layer." + std::to_string(i) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense", "intermediate.dense", "output.dense",
                          "attention.output.LayerNorm", "output.LayerNorm"}) {
      k.insert(p + m + ".weight");
      k.insert(p + m + ".bias");
    }
  }
  if (arch == "disc") {
    for (const char* n :
         {"dense.weight", "dense.bias", "dense_prediction.weight", "dense_prediction.bias"})
      k.insert(std::string("discriminator_predictions.") + n);
  } else if (arch == "gen") {
    for (const char* n : {"dense.weight", "dense.bias", "LayerNorm.weight", "LayerNorm.bias"})
      k.insert(std::string("generator_predictions.") + n);
    k.insert("generator_lm_head.bias");  // the weight is the tied word-embedding table
  } else {
    for (const char* n : {"dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"})
      k.insert(std::string("classifier.") + n);
  }
  return k;
}

std::set<std::string> names(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters())
    out.insert(p.key());
  return out;
}

TEST(Model, ParameterNamesAreExactlyHuggingFaces) {
  for (auto [emb, hidden] : {std::pair<int64_t, int64_t>{16, 32}, {32, 32}}) {
    const ElectraConfig c = tiny(emb, hidden);
    EXPECT_EQ(names(*ElectraForPreTraining(c)), hf_keys(c, "disc"));
    EXPECT_EQ(names(*ElectraForMaskedLM(c)), hf_keys(c, "gen"));
    EXPECT_EQ(names(*ElectraForSequenceClassification(c)), hf_keys(c, "cls"));
  }
  EXPECT_TRUE(names(*ElectraForPreTraining(tiny()))
                  .count("electra.encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(names(*ElectraForPreTraining(tiny()))
                  .count("discriminator_predictions.dense_prediction.bias"));
}

TEST(Model, OutputShapes) {
  torch::manual_seed(0);
  const ElectraConfig c = tiny();
  ElectraForPreTraining d(c);
  ElectraForMaskedLM g(c);
  ElectraConfig cc = c;
  cc.num_labels = 3;
  ElectraForSequenceClassification cls(cc);
  at::Tensor ids = at::randint(5, 50, {3, 7}, at::kLong);  // [batch 3, seq 7]
  at::Tensor mask = at::ones({3, 7}, at::kLong);
  at::Tensor hidden;
  EXPECT_EQ(d(ids, mask, at::Tensor(), at::kFloat, &hidden).sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(hidden.sizes(), (std::vector<int64_t>{3, 7, 32}));
  EXPECT_EQ(g(ids, mask, at::Tensor()).sizes(), (std::vector<int64_t>{3, 7, 50}));
  EXPECT_EQ(cls(ids, mask, at::Tensor()).sizes(), (std::vector<int64_t>{3, 3}));
  // bf16 compute keeps fp32 outputs and stays close to fp32.
  d->eval();
  at::Tensor f32 = d(ids, mask, at::Tensor(), at::kFloat);
  at::Tensor b16 = d(ids, mask, at::Tensor(), at::kBFloat16);
  EXPECT_EQ(b16.scalar_type(), at::kFloat);
  EXPECT_LT((f32 - b16).abs().max().item<float>(), 0.1f);
}

TEST(Model, PaddingDoesNotChangeRealTokens) {
  torch::manual_seed(1);
  ElectraForPreTraining d(tiny());
  d->eval();
  at::Tensor ids = at::tensor({2, 7, 8, 9, 3}, at::kLong).view({1, 5});
  at::Tensor padded = at::tensor({2, 7, 8, 9, 3, 0, 0}, at::kLong).view({1, 7});
  at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 0, 0}, at::kLong).view({1, 7});
  at::Tensor a = d(ids, at::ones({1, 5}, at::kLong), at::Tensor());
  at::Tensor b = d(padded, mask, at::Tensor()).slice(1, 0, 5);
  EXPECT_LT((a - b).abs().max().item<float>(), 1e-5);
}

TEST(Model, GeneratorSharesTheDiscriminatorsEmbeddingBlock) {
  torch::manual_seed(2);
  ElectraConfig d = tiny(16, 32);
  ElectraConfig g = generator_config(d, 0.25);
  PretrainingPair pair = make_pretraining_pair(d, g);
  auto& de = pair.discriminator->electra->embeddings;
  auto& ge = pair.generator->electra->embeddings;
  EXPECT_EQ(de.get(), ge.get());
  EXPECT_TRUE(pair.generator->output_weight().is_same(de->word_embeddings->weight));
  // The generator's own projection (emb 16 -> hidden 8) is not shared.
  ASSERT_TRUE(pair.generator->electra->embeddings_project);
  EXPECT_EQ(pair.generator->electra->embeddings_project->weight.sizes(),
            (std::vector<int64_t>{8, 16}));
  // Shared tensors are counted once, under the discriminator's name.
  auto params = unique_parameters(pair);
  std::set<std::string> unique_names;
  for (auto& [n, p] : params)
    unique_names.insert(n);
  EXPECT_TRUE(unique_names.count("discriminator.electra.embeddings.word_embeddings.weight"));
  EXPECT_FALSE(unique_names.count("generator.electra.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(unique_names.count("generator.electra.embeddings_project.weight"));
  // HF init: LayerNorm 1/0, padding row 0, biases 0.
  EXPECT_TRUE(at::equal(de->word_embeddings->weight[0], at::zeros({16})));
  EXPECT_TRUE(at::equal(de->LayerNorm->weight, at::ones({16})));
  EXPECT_TRUE(at::equal(pair.generator->generator_lm_head->bias, at::zeros({50})));
  EXPECT_NEAR(pair.discriminator->electra->encoder->layers[0]
                  ->attention->self->query->weight.std()
                  .item<double>(),
              0.02, 0.004);
}

TEST(Model, GeneratorSizingFollowsThePaper) {
  ElectraConfig small;  // HF defaults = ELECTRA-Small discriminator
  ElectraConfig g = generator_config(small, 0.25);
  EXPECT_EQ(g.hidden_size, 64);
  EXPECT_EQ(g.num_attention_heads, 1);
  EXPECT_EQ(g.intermediate_size, 256);
  EXPECT_EQ(g.num_hidden_layers, 12);
  EXPECT_EQ(g.embedding_size, 128);
  ElectraConfig base = small;
  base.hidden_size = 768;
  base.num_attention_heads = 12;
  base.intermediate_size = 3072;
  base.embedding_size = 768;
  g = generator_config(base, 1.0 / 3.0);
  EXPECT_EQ(g.hidden_size, 256);
  EXPECT_EQ(g.num_attention_heads, 4);
  EXPECT_EQ(g.intermediate_size, 1024);
  EXPECT_THROW(generator_config(small, 0.0), UserError);
}

TEST(Model, ConfigJsonRoundTripAndDefaults) {
  ElectraConfig c = config_from_json(R"({"hidden_size": 64, "num_attention_heads": 2})", "t");
  EXPECT_EQ(c.embedding_size, 128);  // HF default, not hidden_size
  EXPECT_EQ(c.intermediate_size, 1024);
  c.architectures = {"ElectraForSequenceClassification"};
  c.num_labels = 3;
  c.id2label = {"neg", "neu", "pos"};
  ElectraConfig back = config_from_json(config_to_json(c), "t");
  EXPECT_EQ(back.hidden_size, 64);
  EXPECT_EQ(back.num_labels, 3);
  EXPECT_EQ(back.id2label, c.id2label);
  EXPECT_THROW(config_from_json(R"({"hidden_size": 30, "num_attention_heads": 4})", "t"),
               UserError);
  // A number too large for a double is an out_of_range from the JSON library, still bad input.
  EXPECT_THROW(config_from_json(R"({"hidden_size": 1E999})", "t"), UserError);
  EXPECT_THROW(config_from_json(R"({"model_type": "bert"})", "t"), UserError);
  EXPECT_THROW(config_from_json("{not json", "t"), UserError);
}

TEST(Safetensors, RoundTripAndKnownLayout) {
  TensorMap m;
  m["b"] = at::arange(6, at::kFloat).view({2, 3});
  m["a"] = at::tensor({1, 2}, at::kLong);
  m["h"] = at::tensor({1.5}, at::kFloat).to(at::kBFloat16);
  const std::string bytes = serialize_safetensors(m, {{"format", "pt"}});
  // 8-byte little-endian header length; the data section starts 8-byte aligned.
  uint64_t hlen = 0;
  std::memcpy(&hlen, bytes.data(), 8);
  EXPECT_EQ(hlen % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + hlen + 16 + 24 + 2);
  EXPECT_NE(bytes.find("\"dtype\":\"BF16\""), std::string::npos);
  SafetensorsFile f = parse_safetensors(bytes, "mem");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  for (auto& [k, v] : m)
    EXPECT_TRUE(at::equal(f.tensors.at(k), v)) << k;
}

TEST(Safetensors, CorruptInputsAreUserErrors) {
  TensorMap m;
  m["w"] = at::ones({4}, at::kFloat);
  const std::string good = serialize_safetensors(m);
  EXPECT_THROW(parse_safetensors("abc", "x"), UserError);
  EXPECT_THROW(parse_safetensors(good.substr(0, good.size() - 1), "x"), UserError);  // truncated
  std::string huge = good;
  huge[7] = '\x7f';  // absurd header length
  EXPECT_THROW(parse_safetensors(huge, "x"), UserError);
  std::string bad_dtype = good;
  bad_dtype.replace(bad_dtype.find("F32"), 3, "Q32");
  EXPECT_THROW(parse_safetensors(bad_dtype, "x"), UserError);
  try {
    parse_safetensors(good.substr(0, good.size() - 1), "weights.safetensors");
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("weights.safetensors"), std::string::npos);
  }
}

TEST(Weights, StrictLoadingListsKeysAndShapes) {
  ElectraForPreTraining d(tiny());
  TensorMap sd = state_dict(*d);
  TensorMap missing = sd;
  missing.erase("discriminator_predictions.dense.bias");
  missing["extra.weight"] = at::zeros({1});
  missing["electra.embeddings.LayerNorm.weight"] = at::ones({3});
  try {
    load_state_dict(*d, missing, "ckpt.safetensors");
    FAIL();
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("ckpt.safetensors"), std::string::npos);
    EXPECT_NE(msg.find("missing keys (1): discriminator_predictions.dense.bias"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("unexpected keys (1): extra.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("electra.embeddings.LayerNorm.weight: checkpoint [3] vs model [16]"),
              std::string::npos)
        << msg;
  }
  // A correct map loads and the values arrive.
  ElectraForPreTraining d2(tiny());
  load_state_dict(*d2, sd, "ok");
  for (auto& [k, v] : state_dict(*d2))
    EXPECT_TRUE(at::equal(v, sd.at(k))) << k;
}

TEST(HfIo, WriteThenReadGivesIdenticalTensors) {
  torch::manual_seed(3);
  ElectraConfig c = tiny();
  c.architectures = {"ElectraForPreTraining"};
  ElectraForPreTraining d(c);
  const std::string dir = (std::filesystem::temp_directory_path() / "electra_hfio").string();
  ::electra::fs::remove_all(dir);
  write_hf_model(dir, *d, c);
  HfModel m = read_hf_model(dir);
  EXPECT_EQ(m.architecture, Architecture::kPreTraining);
  EXPECT_EQ(m.config.hidden_size, 32);
  for (auto& [k, v] : state_dict(*d))
    EXPECT_TRUE(at::equal(m.tensors.at(k), v)) << k;
  ElectraModel enc(c);
  load_encoder_weights(enc, m);
  EXPECT_TRUE(at::equal(enc->embeddings->word_embeddings->weight,
                        d->electra->embeddings->word_embeddings->weight));
}

}  // namespace
}  // namespace electra::model
