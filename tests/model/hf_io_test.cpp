// Loading HF model directories: both weight formats, the tied generator head, legacy buffers,
// strict key checks with useful messages, config defaults, and the .bin reader's refusals.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "model/hf_io.h"
#include "model/torch_bin.h"
#include "model/weights.h"
#include "tests/support/reference_json.h"
#include "tests/support/temp_dir.h"

namespace electra::model {
namespace {

using testing::TempDir;

std::string fixture(const std::string& rel) {
  return std::string(ELECTRA_TEST_DATA) + "/" + rel;
}

// The message of the UserError `fn` throws ("" if it throws none).
template <class F>
std::string user_error(F&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// An HF directory in `dir` with `config.json` copied from a fixture and the given tensors.
void write_dir(const std::string& dir, const std::string& config_from, const TensorMap& tensors) {
  fs::copy_file(fs::join(fixture(config_from), "config.json"), fs::join(dir, "config.json"));
  write_safetensors(fs::join(dir, "model.safetensors"), tensors);
}

void expect_same_tensors(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(at::equal(t, b.at(name))) << name;
  }
}

TEST(HfIoTest, BothFormatsGiveTheSameModel) {
  for (const char* name : {"parity/disc-proj", "parity/gen-tied", "parity/gen-untied-std02",
                           "parity/cls-proj-std02"}) {
    SCOPED_TRACE(name);
    TaskModel st = load_hf_model(fixture(name), WeightsFormat::kSafetensors);
    TaskModel bin = load_hf_model(fixture(name), WeightsFormat::kBin);
    expect_same_tensors(state_dict(st.module()), state_dict(bin.module()));
  }
}

TEST(HfIoTest, AutoPrefersSafetensorsAndFallsBackToBin) {
  EXPECT_EQ(fs::basename(read_hf_model(fixture("parity/disc-proj")).weights_file),
            "model.safetensors");
  EXPECT_EQ(fs::basename(read_hf_model(fixture("hf_io/bin-ordereddict")).weights_file),
            "pytorch_model.bin");
  EXPECT_NE(user_error([] {
              read_hf_model(fixture("hf_io/bin-ordereddict"), WeightsFormat::kSafetensors);
            }).find("has no model.safetensors"),
            std::string::npos);
  EXPECT_NE(user_error([] { parse_weights_format("pt", "--weights"); }).find("--weights"),
            std::string::npos);
}

TEST(HfIoTest, TiedGeneratorHeadSharesStorageInBinAndIsTiedOnLoad) {
  const std::string dir = fixture("parity/gen-tied");
  // The .bin carries both keys over one storage (torch.save keeps the aliasing)...
  const TensorMap bin = read_torch_bin(fs::join(dir, "pytorch_model.bin"));
  ASSERT_TRUE(bin.count("generator_lm_head.weight"));
  EXPECT_EQ(bin.at("generator_lm_head.weight").data_ptr(),
            bin.at("electra.embeddings.word_embeddings.weight").data_ptr());
  // ...the safetensors file leaves the head out, as save_pretrained does.
  EXPECT_FALSE(
      read_hf_model(dir, WeightsFormat::kSafetensors).tensors.count("generator_lm_head.weight"));
  for (auto format : {WeightsFormat::kSafetensors, WeightsFormat::kBin}) {
    TaskModel m = load_hf_model(dir, format);
    EXPECT_TRUE(m.notes.empty());
    EXPECT_FALSE(m.generator->generator_lm_head->weight.defined());
    EXPECT_EQ(m.generator->output_weight().data_ptr(),
              m.generator->electra->embeddings->word_embeddings->weight.data_ptr());
  }
}

TEST(HfIoTest, TiedHeadThatDiffersWarnsAndTheEmbeddingsWin) {
  TempDir tmp;
  HfModel src = read_hf_model(fixture("parity/gen-tied"));
  TensorMap t = src.tensors;
  const at::Tensor emb = t.at("electra.embeddings.word_embeddings.weight");
  t["generator_lm_head.weight"] = emb + 1.0;
  write_dir(tmp.path(), "parity/gen-tied", t);
  TaskModel m = load_hf_model(tmp.path());
  ASSERT_EQ(m.notes.size(), 1u);
  EXPECT_NE(m.notes[0].find("differs from electra.embeddings.word_embeddings.weight"),
            std::string::npos);
  EXPECT_TRUE(at::equal(m.generator->output_weight(), emb));
}

TEST(HfIoTest, UntiedGeneratorNeedsItsOwnHead) {
  const std::string dir = fixture("parity/gen-untied-std02");
  TaskModel m = load_hf_model(dir);
  ASSERT_TRUE(m.generator->generator_lm_head->weight.defined());
  EXPECT_FALSE(at::equal(m.generator->output_weight(),
                         m.generator->electra->embeddings->word_embeddings->weight));
  TempDir tmp;
  TensorMap t = read_hf_model(dir).tensors;
  t.erase("generator_lm_head.weight");
  write_dir(tmp.path(), "parity/gen-untied-std02", t);
  const std::string msg = user_error([&] { load_hf_model(tmp.path()); });
  EXPECT_NE(msg.find("missing keys (1): generator_lm_head.weight"), std::string::npos) << msg;
}

TEST(HfIoTest, LegacyPositionIdsAreIgnoredInBothFormats) {
  const std::string dir = fixture("parity/gen-keeptied-legacy-std02");
  for (auto format : {WeightsFormat::kSafetensors, WeightsFormat::kBin}) {
    TaskModel m = load_hf_model(dir, format);
    ASSERT_FALSE(m.notes.empty());
    EXPECT_EQ(m.notes[0], "ignored legacy buffer electra.embeddings.position_ids");
  }
}

TEST(HfIoTest, MissingAndUnexpectedKeysAreListed) {
  TempDir tmp;
  TensorMap t = read_hf_model(fixture("parity/disc-proj")).tensors;
  t.erase("electra.encoder.layer.1.output.dense.bias");
  t["electra.pooler.dense.weight"] = at::zeros({32, 32});
  write_dir(tmp.path(), "parity/disc-proj", t);
  const std::string msg = user_error([&] { load_hf_model(tmp.path()); });
  EXPECT_NE(msg.find("missing keys (1): electra.encoder.layer.1.output.dense.bias"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unexpected keys (1): electra.pooler.dense.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find(tmp.path()), std::string::npos) << msg;
}

TEST(HfIoTest, ShapeMismatchNamesTheTensorAndBothShapes) {
  TempDir tmp;
  TensorMap t = read_hf_model(fixture("parity/disc-proj")).tensors;
  t["discriminator_predictions.dense_prediction.weight"] = at::zeros({1, 16});
  write_dir(tmp.path(), "parity/disc-proj", t);
  const std::string msg = user_error([&] { load_hf_model(tmp.path()); });
  EXPECT_NE(msg.find("discriminator_predictions.dense_prediction.weight: checkpoint [1, 16] vs "
                     "model [1, 32]"),
            std::string::npos)
      << msg;
}

TEST(HfIoTest, MissingConfigFieldsTakeHfDefaults) {
  // The same values as HF_DEFAULTS in ref_electra.py (transformers' ElectraConfig).
  const ElectraConfig c = config_from_json("{}", "test");
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.embedding_size, 128);  // not hidden_size
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.intermediate_size, 1024);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(c.hidden_dropout_prob, 0.1);
  EXPECT_DOUBLE_EQ(c.attention_probs_dropout_prob, 0.1);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.initializer_range, 0.02);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.position_embedding_type, "absolute");
  EXPECT_LT(c.classifier_dropout, 0);  // null: use hidden_dropout_prob
  EXPECT_EQ(c.num_labels, 2);
  EXPECT_EQ(config_from_json(R"({"hidden_size": 64})", "test").embedding_size, 128);
}

TEST(HfIoTest, ArchitectureComesFromConfig) {
  TaskModel cls = load_hf_model(fixture("parity/cls-proj-std02"));
  EXPECT_EQ(cls.architecture, Architecture::kSequenceClassification);
  EXPECT_EQ(cls.config.num_labels, 3);
  torch::NoGradGuard no_grad;
  cls.module().eval();
  EXPECT_EQ(cls.forward(at::ones({2, 5}, at::kLong), {}, {}).logits.sizes(),
            at::IntArrayRef({2, 3}));
  TempDir tmp;
  fs::write_file(tmp.file("config.json"), R"({"architectures": ["ElectraModel"]})");
  EXPECT_NE(user_error([&] { read_hf_model(tmp.path()); }).find("unsupported architecture"),
            std::string::npos);
}

TEST(HfIoTest, NotAModelDirectory) {
  TempDir tmp;
  EXPECT_NE(user_error([&] { read_hf_model(tmp.path()); }).find("has no config.json"),
            std::string::npos);
  fs::copy_file(fixture("parity/disc-proj/config.json"), tmp.file("config.json"));
  EXPECT_NE(user_error([&] {
              read_hf_model(tmp.path());
            }).find("neither model.safetensors nor pytorch_model.bin"),
            std::string::npos);
}

// --- pytorch_model.bin variants -------------------------------------------------------------

TEST(TorchBinTest, OrderedDictStateDictLoadsAndMatchesTheReference) {
  // torch.save(model.state_dict()): an OrderedDict with _metadata (LibTorch's pickle_load
  // returns None for it).
  TaskModel m = load_hf_model(fixture("hf_io/bin-ordereddict"));
  m.module().eval();
  const auto ref = nlohmann::json::parse(
      fs::read_file(fixture("parity/disc-proj/ref.json"), "reference output"));
  torch::NoGradGuard no_grad;
  const TaskOutput out =
      m.forward(testing::int_rows(ref["input_ids"]), testing::int_rows(ref["attention_mask"]),
                testing::int_rows(ref["token_type_ids"]));
  EXPECT_LE(testing::max_abs_diff(out.logits, ref["logits"]), 1e-5);
}

TEST(TorchBinTest, HalfPrecisionWeightsAreWidened) {
  const TensorMap half = read_torch_bin(fixture("hf_io/bin-fp16/pytorch_model.bin"));
  EXPECT_EQ(half.at("electra.embeddings.word_embeddings.weight").scalar_type(), at::kHalf);
  TaskModel m = load_hf_model(fixture("hf_io/bin-fp16"));
  const TensorMap full = read_hf_model(fixture("parity/disc-proj")).tensors;
  for (const auto& [name, t] : state_dict(m.module())) {
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(at::equal(t, full.at(name).to(at::kHalf).to(at::kFloat))) << name;
  }
}

TEST(TorchBinTest, APickleThatCallsCodeIsRefused) {
  const std::string msg =
      user_error([] { read_torch_bin(fixture("hf_io/bin-unsafe/pytorch_model.bin")); });
  EXPECT_NE(msg.find("refusing to load"), std::string::npos) << msg;
  EXPECT_NE(msg.find("__builtin__.print"), std::string::npos) << msg;  // protocol 2 spelling
}

TEST(TorchBinTest, LegacyFormatIsAClearError) {
  const std::string msg =
      user_error([] { read_torch_bin(fixture("hf_io/bin-legacy/pytorch_model.bin")); });
  EXPECT_NE(msg.find("legacy (torch < 1.6)"), std::string::npos) << msg;
}

TEST(TorchBinTest, TruncatedOrForeignFilesAreUserErrors) {
  TempDir tmp;
  const std::string whole = fs::read_file(fixture("parity/disc-proj/pytorch_model.bin"), "fixture");
  fs::write_file(tmp.file("cut.bin"), whole.substr(0, whole.size() / 2));
  EXPECT_NE(user_error([&] { read_torch_bin(tmp.file("cut.bin")); }).find("cut.bin"),
            std::string::npos);
  fs::write_file(tmp.file("text.bin"), "hello");
  EXPECT_NE(user_error([&] { read_torch_bin(tmp.file("text.bin")); }).find("not a torch.save file"),
            std::string::npos);
}

}  // namespace
}  // namespace electra::model
