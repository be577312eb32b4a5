// model.init_from: our checkpoints, exports, HF discriminator / generator directories and
// DISC,GEN pairs load into a pretraining pair; sizes that differ name the config key.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "distributed/communicator.h"
#include "model/hf_io.h"
#include "model/weights.h"
#include "pretrain/checkpoint.h"
#include "pretrain/init_from.h"
#include "tests/support/temp_dir.h"

namespace electra::pretrain {
namespace {

using model::PretrainingPair;
using model::TensorMap;
using testing::TempDir;

// The sizes of the reference fixtures in tests/fixtures/parity (small-proj.json).
model::ElectraConfig disc_config(int64_t hidden = 32) {
  model::ElectraConfig c;
  c.vocab_size = 100;
  c.embedding_size = 16;
  c.hidden_size = hidden;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 64;
  c.max_position_embeddings = 32;
  return c;
}

PretrainingPair make_pair(uint64_t seed, double gen_fraction = 0.5, int64_t hidden = 32) {
  torch::manual_seed(seed);
  const auto d = disc_config(hidden);
  return model::make_pretraining_pair(d, model::generator_config(d, gen_fraction));
}

// The pair's tensors by name ("discriminator.*" / "generator.*", shared ones under both).
TensorMap snapshot(const PretrainingPair& p) {
  TensorMap out;
  for (const auto& [k, t] : model::state_dict(*p.discriminator))
    out["discriminator." + k] = t.clone();
  for (const auto& [k, t] : model::state_dict(*p.generator))
    out["generator." + k] = t.clone();
  return out;
}

void expect_equal(const TensorMap& a, const TensorMap& b, const std::string& only_prefix = "") {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, t] : a) {
    if (k.rfind(only_prefix, 0) != 0) continue;
    EXPECT_TRUE(at::equal(t, b.at(k))) << k;
  }
}

bool is_shared_embedding(const std::string& key) {
  return key.find(".electra.embeddings.") != std::string::npos;
}

class FakeTokenizer : public data::Tokenizer {
 public:
  explicit FakeTokenizer(std::string file) : file_(std::move(file)) {}
  std::vector<int32_t> encode(std::string_view) const override { return {}; }
  std::vector<std::string> tokenize(std::string_view) const override { return {}; }
  std::string id_to_token(int32_t) const override { return ""; }
  int32_t token_to_id(const std::string&) const override { return -1; }
  int64_t vocab_size() const override { return 100; }
  std::string decode(const std::vector<int32_t>&) const override { return ""; }
  std::string kind() const override { return "wordpiece"; }
  std::vector<std::string> files() const override { return {file_}; }
  std::string canonical_name() const override { return "vocab.txt"; }

 private:
  std::string file_;
};

// A complete checkpoint of `pair` written by save_checkpoint, as the trainer writes it.
std::string save(const PretrainingPair& pair, const TempDir& tmp) {
  fs::write_file(tmp.file("vocab.txt"), "[PAD]\n");
  FakeTokenizer tok(tmp.file("vocab.txt"));
  AdamW opt(model::unique_parameters(pair), AdamWOptions{});
  CheckpointWrite w;
  w.pair = &pair;
  w.optimizer = &opt;
  w.state.step = 5;
  w.config_yaml = "train: {}\n";
  w.tokenizer = &tok;
  auto comm = dist::make_single_process_communicator();
  return save_checkpoint(tmp.file("checkpoints"), w, *comm);
}

std::string user_error(const std::string& spec, PretrainingPair& pair) {
  try {
    init_pair_from(spec, pair);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(InitFromTest, CheckpointAndExportsRoundTrip) {
  TempDir tmp;
  const PretrainingPair trained = make_pair(1);
  const TensorMap want = snapshot(trained);
  const std::string ckpt = save(trained, tmp);
  export_checkpoint(ckpt, tmp.file("exports/discriminator"), "discriminator");
  export_checkpoint(ckpt, tmp.file("exports/generator"), "generator");
  const std::string pair_spec = tmp.file("exports/discriminator,") + tmp.file("exports/generator");
  for (const std::string& spec : {ckpt, tmp.path(), tmp.file("exports"), pair_spec}) {
    SCOPED_TRACE(spec);
    PretrainingPair fresh = make_pair(2);
    ASSERT_FALSE(at::equal(fresh.discriminator->electra->embeddings->word_embeddings->weight,
                           trained.discriminator->electra->embeddings->word_embeddings->weight));
    EXPECT_TRUE(init_pair_from(spec, fresh).empty());  // our pair shares its embeddings
    expect_equal(snapshot(fresh), want);
    // The generator still shares the discriminator's embedding module.
    EXPECT_EQ(fresh.generator->electra->embeddings.ptr(),
              fresh.discriminator->electra->embeddings.ptr());
  }
}

// Loads one exported part into a fresh pair: that model and the shared embeddings take the
// checkpoint's values, everything else keeps the fresh initialisation.
void expect_one_sided_load(const std::string& part) {
  TempDir tmp;
  const PretrainingPair trained = make_pair(1);
  export_checkpoint(save(trained, tmp), tmp.file(part), part);
  PretrainingPair fresh = make_pair(2);
  const TensorMap before = snapshot(fresh), want = snapshot(trained);
  init_pair_from(tmp.file(part), fresh);
  for (const auto& [k, t] : snapshot(fresh)) {
    const bool loaded = k.rfind(part + ".", 0) == 0 || is_shared_embedding(k);
    EXPECT_TRUE(at::equal(t, (loaded ? want : before).at(k))) << k;
  }
}

TEST(InitFromTest, DiscriminatorOnlyKeepsTheGeneratorsOwnWeights) {
  expect_one_sided_load("discriminator");
}

TEST(InitFromTest, GeneratorOnlyKeepsTheDiscriminatorsOwnWeights) {
  expect_one_sided_load("generator");
}

TEST(InitFromTest, HfReferenceDiscriminatorLoads) {
  // A checkpoint written by the PyTorch reference (HF layout, .bin and safetensors).
  const std::string dir = std::string(ELECTRA_TEST_DATA) + "/parity/disc-proj";
  PretrainingPair p = make_pair(2);
  init_pair_from(dir, p);
  const TensorMap ref = model::read_hf_model(dir).tensors;
  for (const auto& [k, t] : model::state_dict(*p.discriminator))
    EXPECT_TRUE(at::equal(t, ref.at(k))) << k;
}

TEST(InitFromTest, HfPairSharesTheDiscriminatorsEmbeddings) {
  // Two reference checkpoints with different embeddings: ELECTRA shares one block, and the
  // discriminator's wins; the generator keeps everything else of its own.
  const std::string disc = std::string(ELECTRA_TEST_DATA) + "/parity/disc-proj";
  const std::string gen = std::string(ELECTRA_TEST_DATA) + "/parity/gen-tied";
  PretrainingPair p = make_pair(2, 1.0);
  const std::vector<std::string> notes = init_pair_from(disc + "," + gen, p);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("electra.embeddings.word_embeddings.weight"), std::string::npos);
  EXPECT_NE(notes[0].find("the discriminator's is used"), std::string::npos);
  const TensorMap d = model::read_hf_model(disc).tensors, g = model::read_hf_model(gen).tensors;
  ASSERT_FALSE(at::equal(d.at("electra.embeddings.word_embeddings.weight"),
                         g.at("electra.embeddings.word_embeddings.weight")));
  for (const auto& [k, t] : model::state_dict(*p.discriminator))
    EXPECT_TRUE(at::equal(t, d.at(k))) << k;
  for (const auto& [k, t] : model::state_dict(*p.generator))
    EXPECT_TRUE(at::equal(t, (k.rfind("electra.embeddings.", 0) == 0 ? d : g).at(k))) << k;
}

TEST(InitFromTest, SizeMismatchNamesTheConfigKey) {
  TempDir tmp;
  const PretrainingPair trained = make_pair(1);
  const std::string ckpt = save(trained, tmp);
  PretrainingPair wider = make_pair(2, 0.5, /*hidden=*/64);
  std::string msg = user_error(ckpt, wider);
  EXPECT_NE(msg.find("hidden_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("generator.size_fraction"), std::string::npos) << msg;  // generator first
  export_checkpoint(ckpt, tmp.file("disc"), "discriminator");
  msg = user_error(tmp.file("disc"), wider);
  EXPECT_NE(msg.find("has hidden_size 32 but the configured discriminator has 64. Set "
                     "model.hidden_size"),
            std::string::npos)
      << msg;
  PretrainingPair narrow_gen = make_pair(2, 0.25);
  export_checkpoint(ckpt, tmp.file("gen"), "generator");
  msg = user_error(tmp.file("gen"), narrow_gen);
  EXPECT_NE(msg.find("configured generator has"), std::string::npos) << msg;
  EXPECT_NE(msg.find("generator.size_fraction"), std::string::npos) << msg;
}

TEST(InitFromTest, WrongKindsOfDirectoryAreClearErrors) {
  TempDir tmp;
  PretrainingPair p = make_pair(2);
  const std::string cls = std::string(ELECTRA_TEST_DATA) + "/parity/cls-proj-std02";
  EXPECT_NE(user_error(cls, p).find("ElectraForSequenceClassification"), std::string::npos);
  EXPECT_NE(user_error(tmp.path(), p).find("neither an HF model directory"), std::string::npos);
  EXPECT_NE(user_error(tmp.file("missing"), p).find("is not a directory"), std::string::npos);
  // A generator directory given as the discriminator of a pair (the generator slot loads).
  PretrainingPair same_width = make_pair(2, 1.0);
  const std::string gen = std::string(ELECTRA_TEST_DATA) + "/parity/gen-tied";
  EXPECT_NE(user_error(gen + "," + gen, same_width).find("needs an ElectraForPreTraining"),
            std::string::npos);
  // An untied generator head cannot become the pair's tied output layer.
  const std::string untied = std::string(ELECTRA_TEST_DATA) + "/parity/gen-untied-std02";
  EXPECT_NE(user_error(untied, same_width).find("untied generator_lm_head"), std::string::npos);
}

}  // namespace
}  // namespace electra::pretrain
