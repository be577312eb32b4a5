// `electra convert --tf-checkpoint` end to end on bundles written by the test.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/fs.h"
#include "model/hf_io.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tf_electra_fixture.h"

namespace electra::testing {
namespace {

class ConvertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = tmp_.file("ck");
    write_bundle(prefix_,
                 {{"a/w", 1, {2, 3}, raw_bytes(std::vector<float>{1.5f, -2, 3.25f, 0, 1e-3f, 7})},
                  {"global_step", 9, {}, raw_bytes(std::vector<int64_t>{1000000})},
                  {"s", 7, {2}, std::string("hello\0x\"y", 9)}});
  }
  TempDir tmp_;
  std::string prefix_;
};

TEST_F(ConvertCli, ListsNameDtypeShape) {
  const auto r = electra("convert", "--tf-checkpoint", prefix_, "--list");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "a/w          float32   [2, 3]\n"
            "global_step  int64     []\n"
            "s            string    [2]\n");
  // The .index path and the directory work as well.
  EXPECT_EQ(electra("convert", "--tf-checkpoint", prefix_ + ".index", "--list").output, r.output);
  EXPECT_EQ(electra("convert", "--tf-checkpoint", tmp_.path(), "--list").output, r.output);
}

TEST_F(ConvertCli, ShowsValuesRowByRow) {
  auto r = electra("convert", "--tf-checkpoint", prefix_, "--show", "a/w");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "a/w  float32   [2, 3]\n1.5 -2 3.25\n0 0.00100000005 7\n");
  r = electra("convert", "--tf-checkpoint", prefix_, "--show", "global_step");
  EXPECT_EQ(r.output, "global_step  int64     []\n1000000\n");
  r = electra("convert", "--tf-checkpoint", prefix_, "--show", "s");
  EXPECT_EQ(r.output, "s  string    [2]\n\"hello\" \"x\\\"y\"\n");
  r = electra("convert", "--tf-checkpoint", prefix_, "--show", "a/v");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no variable 'a/v' (closest: 'a/w')"), std::string::npos) << r.output;
}

TEST_F(ConvertCli, ConvertsADiscriminatorAndAGenerator) {
  const std::string ck = tmp_.file("electra/model.ckpt-100");
  fs::ensure_writable_dir(tmp_.file("electra"), "test");
  const auto vars = checkpoint_vars(model::ElectraPart::kDiscriminator);
  const auto values = write_electra_checkpoint(ck, vars);
  const std::string disc = tmp_.write("disc.json", model::config_to_json(disc_config()));
  auto r = electra("convert", "--tf-checkpoint", ck, "--config", disc, "--out", tmp_.file("hf"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const model::HfModel m = model::read_hf_model(tmp_.file("hf"));
  EXPECT_EQ(m.architecture, model::Architecture::kPreTraining);
  EXPECT_TRUE(at::equal(m.tensors.at("electra.encoder.layer.0.attention.self.query.weight"),
                        values.at("electra/encoder/layer_0/attention/self/query/kernel").t()));

  const std::string gen = tmp_.write("gen.json", model::config_to_json(gen_config()));
  r = electra("convert", "--tf-checkpoint", ck, "--config", gen, "--part", "generator", "--out",
              tmp_.file("hf-gen"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const model::HfModel g = model::read_hf_model(tmp_.file("hf-gen"));
  EXPECT_FALSE(fs::exists(tmp_.file("hf-gen/vocab.txt")));
  EXPECT_EQ(g.architecture, model::Architecture::kMaskedLM);
  EXPECT_TRUE(at::equal(g.tensors.at("generator_lm_head.bias"),
                        values.at("generator_predictions/output_bias")));

  // --vocab copies the vocabulary and writes its HF tokenizer_config.json; its size must be
  // the config's vocab_size (12).
  const std::string vocab =
      tmp_.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nc\nd\ne\nf\ng\n");
  r = electra("convert", "--tf-checkpoint", ck, "--config", disc, "--vocab", vocab, "--out",
              tmp_.file("hf-tok"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(fs::read_file(tmp_.file("hf-tok/vocab.txt"), "test"), fs::read_file(vocab, "test"));
  EXPECT_NE(fs::read_file(tmp_.file("hf-tok/tokenizer_config.json"), "test")
                .find("\"tokenizer_class\": \"ElectraTokenizer\""),
            std::string::npos);
  r = electra("convert", "--tf-checkpoint", ck, "--config", disc, "--vocab",
              std::string(ELECTRA_TEST_DATA) + "/wordpiece/uncased_vocab.txt", "--out",
              tmp_.file("hf-bad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--vocab has 37 tokens but --config says vocab_size 12"),
            std::string::npos)
      << r.output;

  // The discriminator's config for the generator: refused, nothing written.
  r = electra("convert", "--tf-checkpoint", ck, "--config", disc, "--part", "generator", "--out",
              tmp_.file("hf-bad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("shape mismatches"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp_.file("hf-bad")));
}

TEST_F(ConvertCli, UsageErrors) {
  auto r = electra("convert", "--tf-checkpoint", prefix_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("give exactly one of --list, --show NAME"), std::string::npos)
      << r.output;
  r = electra("convert", "--tf-checkpoint", prefix_, "--list", "--show", "a/w");
  EXPECT_EQ(r.exit_code, 2);
  r = electra("convert", "--tf-checkpoint", prefix_, "--out", tmp_.file("x"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("needs both --config"), std::string::npos) << r.output;
  r = electra("convert", "--tf-checkpoint", tmp_.file("missing"), "--list");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("missing.index' does not exist"), std::string::npos) << r.output;
  tmp_.write("junk.index", std::string(100, 'x'));
  r = electra("convert", "--tf-checkpoint", tmp_.file("junk"), "--list");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("junk.index: not a TensorFlow checkpoint index"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace electra::testing
