// Official-ELECTRA TF checkpoint -> HF conversion on a tiny bundle written here with the TF
// variable names of google-research/electra. The expected HF name of every TF variable is
// spelled out below, independently of the mapping rules in model/tf_electra.cpp.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/fs.h"
#include "model/electra_config.h"
#include "model/hf_io.h"
#include "model/tf_electra.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tf_electra_fixture.h"
#include "tests/support/user_error.h"

namespace electra::model {
namespace {

using testing::checkpoint_vars;
using testing::disc_config;
using testing::gen_config;
using testing::Var;
using testing::write_electra_checkpoint;

class TfElectraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    fs::write_file(dir_ + "/disc.json", config_to_json(disc_config()));
    fs::write_file(dir_ + "/gen.json", config_to_json(gen_config()));
  }

  std::map<std::string, at::Tensor> write(const std::vector<Var>& vars,
                                          const std::vector<std::string>& extra = {}) {
    return write_electra_checkpoint(dir_ + "/model.ckpt-100", vars, extra);
  }

  // Every HF tensor of the part equals its TF variable (transposed for kernels), and there
  // are no others.
  static void expect_converted(const std::vector<Var>& vars,
                               const std::map<std::string, at::Tensor>& values, const HfModel& m) {
    size_t expected = 0;
    for (const Var& v : vars) {
      if (v.hf.empty()) continue;
      ++expected;
      ASSERT_TRUE(m.tensors.count(v.hf)) << v.hf;
      const at::Tensor tf = values.at(v.tf);
      EXPECT_TRUE(at::equal(m.tensors.at(v.hf), v.transpose ? tf.t() : tf)) << v.tf;
    }
    EXPECT_EQ(m.tensors.size(), expected);
  }

  testing::TempDir tmp_;
  std::string dir_;
};

TEST_F(TfElectraTest, DiscriminatorMatchesTheOriginalTensors) {
  const auto vars = checkpoint_vars(ElectraPart::kDiscriminator);
  const auto values = write(vars);
  convert_tf_electra(dir_ + "/model.ckpt-100", dir_ + "/disc.json", ElectraPart::kDiscriminator,
                     dir_ + "/hf");
  const HfModel m = read_hf_model(dir_ + "/hf");
  EXPECT_EQ(m.architecture, Architecture::kPreTraining);
  EXPECT_EQ(m.config.hidden_size, 8);
  expect_converted(vars, values, m);
  // The transposes, spelled out: TF kernels are [in, out], torch weights [out, in].
  EXPECT_EQ(m.tensors.at("discriminator_predictions.dense_prediction.weight").sizes(),
            (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(m.tensors.at("electra.embeddings_project.weight").sizes(),
            (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(m.tensors.at("electra.encoder.layer.1.intermediate.dense.weight")[3][5].item<float>(),
            values.at("electra/encoder/layer_1/intermediate/dense/kernel")[5][3].item<float>());
}

TEST_F(TfElectraTest, GeneratorSharesTheEmbeddings) {
  const auto vars = checkpoint_vars(ElectraPart::kGenerator);
  const auto values = write(vars);
  convert_tf_electra(dir_ + "/model.ckpt-100", dir_ + "/gen.json", ElectraPart::kGenerator,
                     dir_ + "/hf");
  const HfModel m = read_hf_model(dir_ + "/hf");
  EXPECT_EQ(m.architecture, Architecture::kMaskedLM);
  expect_converted(vars, values, m);  // tied: no generator_lm_head.weight
  EXPECT_EQ(m.tensors.count("generator_lm_head.weight"), 0u);
  EXPECT_TRUE(at::equal(m.tensors.at("electra.embeddings.word_embeddings.weight"),
                        values.at("electra/embeddings/word_embeddings")));
}

TEST_F(TfElectraTest, UnmappedVariablesAreListed) {
  write(checkpoint_vars(ElectraPart::kDiscriminator),
        {"cls/predictions/output_bias", "electra/encoder/layer_0//bias"});
  const std::string e = testing::user_error_of([&] {
    convert_tf_electra(dir_ + "/model.ckpt-100", dir_ + "/disc.json", ElectraPart::kDiscriminator,
                       dir_ + "/hf");
  });
  EXPECT_NE(e.find("2 variables have no HuggingFace ELECTRA name"), std::string::npos) << e;
  EXPECT_NE(e.find("\n  cls/predictions/output_bias"), std::string::npos) << e;
  EXPECT_NE(e.find("\n  electra/encoder/layer_0//bias"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir_ + "/hf"));
}

TEST_F(TfElectraTest, ConfigThatDoesNotFitFailsBeforeWriting) {
  write(checkpoint_vars(ElectraPart::kDiscriminator));
  // The generator's config for the discriminator: hidden 6 vs 8 everywhere.
  std::string e = testing::user_error_of([&] {
    convert_tf_electra(dir_ + "/model.ckpt-100", dir_ + "/gen.json", ElectraPart::kDiscriminator,
                       dir_ + "/hf");
  });
  EXPECT_NE(e.find("shape mismatches"), std::string::npos) << e;
  EXPECT_NE(e.find("electra.encoder.layer.0.attention.self.query.weight"), std::string::npos) << e;
  // One layer fewer in the config: the extra layer's weights are unexpected.
  ElectraConfig c = disc_config();
  c.num_hidden_layers = 1;
  fs::write_file(dir_ + "/one.json", config_to_json(c));
  e = testing::user_error_of([&] {
    convert_tf_electra(dir_ + "/model.ckpt-100", dir_ + "/one.json", ElectraPart::kDiscriminator,
                       dir_ + "/hf");
  });
  EXPECT_NE(e.find("unexpected keys"), std::string::npos) << e;
  EXPECT_NE(e.find("electra.encoder.layer.1."), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir_ + "/hf"));
}

TEST(TfElectraNames, MappingSortsEveryVariable) {
  const std::vector<std::string> names = {"electra/embeddings/word_embeddings",
                                          "generator/embeddings/word_embeddings",
                                          "electra/encoder/layer_11/output/LayerNorm/beta",
                                          "discriminator_predictions/dense_1/bias",
                                          "generator_predictions/output_bias",
                                          "global_step",
                                          "generator/encoder/layer_0/x/adam_v",
                                          "bert/pooler/dense/kernel"};
  TfNameMapping d = map_tf_electra_names(names, ElectraPart::kDiscriminator);
  EXPECT_EQ(d.hf.at("electra.embeddings.word_embeddings.weight").tf_name,
            "electra/embeddings/word_embeddings");
  EXPECT_EQ(d.hf.at("electra.encoder.layer.11.output.LayerNorm.bias").tf_name,
            "electra/encoder/layer_11/output/LayerNorm/beta");
  EXPECT_TRUE(d.hf.count("discriminator_predictions.dense_prediction.bias"));
  EXPECT_EQ(d.hf.size(), 3u);
  EXPECT_EQ(d.skipped,
            (std::vector<std::string>{"global_step", "generator/encoder/layer_0/x/adam_v"}));
  EXPECT_EQ(d.other_part, (std::vector<std::string>{"generator/embeddings/word_embeddings",
                                                    "generator_predictions/output_bias"}));
  EXPECT_EQ(d.unmapped, (std::vector<std::string>{"bert/pooler/dense/kernel"}));
  // A generator with embeddings of its own uses them rather than the shared ones.
  TfNameMapping g = map_tf_electra_names(names, ElectraPart::kGenerator);
  EXPECT_EQ(g.hf.at("electra.embeddings.word_embeddings.weight").tf_name,
            "generator/embeddings/word_embeddings");
  EXPECT_EQ(g.hf.at("generator_lm_head.bias").tf_name, "generator_predictions/output_bias");
  EXPECT_FALSE(g.hf.at("generator_lm_head.bias").transpose);
  EXPECT_THROW(parse_electra_part("both", "--part"), UserError);
}

}  // namespace
}  // namespace electra::model
