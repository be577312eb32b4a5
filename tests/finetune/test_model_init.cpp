// Where fine-tuning starts: a pretraining run directory (its newest checkpoint's discriminator
// and tokenizer), an HF ElectraForPreTraining directory (fresh head), an HF classifier with the
// task's labels (head loaded), and the refusals: another label set, a tokenizer larger than the
// model's vocabulary.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/fs.h"
#include "distributed/communicator.h"
#include "finetune/finetune_config.h"
#include "finetune/model_init.h"
#include "model/hf_io.h"
#include "pretrain/checkpoint.h"
#include "pretrain/optimizer.h"
#include "synthetic.h"

namespace electra::finetune {
namespace {

namespace stdfs = std::filesystem;

model::ElectraConfig tiny() {
  model::ElectraConfig c;
  c.vocab_size = 40;
  c.embedding_size = 16;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 64;
  return c;
}

// The word tokenizer with a vocabulary file on disk, so that checkpoints can copy it.
class FileWordTokenizer : public testing::WordTokenizer {
 public:
  explicit FileWordTokenizer(std::string file) : WordTokenizer(30), file_(std::move(file)) {
    std::ofstream(file_) << "words\n";
  }
  std::vector<std::string> files() const override { return {file_}; }

 private:
  std::string file_;
};

class ModelInit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() /
           ("electra_init_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::electra::fs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { ::electra::fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }

  FinetuneConfig config(const std::string& task, const std::string& init_from,
                        std::vector<std::string> extra = {}) {
    extra.push_back("task.name=" + task);
    extra.push_back("data.dir=" + path("data"));
    extra.push_back("model.init_from=" + init_from);
    extra.push_back("data.max_seq_len=32");
    cfg_ = Config::resolve(finetune_schema(), "", extra);
    return read_finetune_config(cfg_);
  }
  static void expect_equal_params(const torch::nn::Module& a, const std::string& a_prefix,
                                  const torch::nn::Module& b, const std::string& b_prefix) {
    const auto pa = a.named_parameters(), pb = b.named_parameters();
    int compared = 0;
    for (const auto& p : pa) {
      if (p.key().rfind(a_prefix, 0) != 0) continue;
      const std::string name = b_prefix + p.key().substr(a_prefix.size());
      ASSERT_TRUE(pb.contains(name)) << name;
      EXPECT_TRUE(at::equal(p.value(), pb[name])) << name;
      ++compared;
    }
    EXPECT_GT(compared, 10);
  }

  Config cfg_;
  stdfs::path dir_;
};

TEST_F(ModelInit, FromAPretrainingRunUsesTheNewestCheckpointsDiscriminator) {
  torch::manual_seed(1);
  model::ElectraConfig gen = model::generator_config(tiny(), 0.5);
  model::PretrainingPair pair = model::make_pretraining_pair(tiny(), gen);
  pretrain::AdamW opt(model::unique_parameters(pair), pretrain::AdamWOptions{});
  FileWordTokenizer tok(path("words.txt"));
  auto comm = dist::make_single_process_communicator();
  pretrain::CheckpointWrite w;
  w.pair = &pair;
  w.optimizer = &opt;
  w.config_yaml = "{}\n";
  w.tokenizer = &tok;
  for (int64_t step : {3, 7}) {
    w.state.step = step;
    pretrain::save_checkpoint(path("run/checkpoints"), w, *comm);
  }
  const InitSource src = resolve_init_source(path("run"));
  EXPECT_EQ(src.model_dir, path("run/checkpoints/step-00000007/discriminator"));
  EXPECT_EQ(src.tokenizer, path("run/checkpoints/step-00000007/tokenizer"));

  const FinetuneConfig fc = config("cola", path("run"));
  ModelPlan plan = plan_model(fc, src, {"0", "1"});
  EXPECT_FALSE(plan.load_head);
  EXPECT_EQ(plan.config.num_labels, 2);
  EXPECT_EQ(plan.config.id2label, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(plan.config.architectures[0], "ElectraForSequenceClassification");
  EXPECT_EQ(plan.config.hidden_size, 16);  // from the checkpoint, not model.* defaults
  fit_tokenizer(plan, fc, tok.vocab_size(), 0, "words");
  torch::manual_seed(2);
  model::ElectraForSequenceClassification net = build_model(plan, src);
  expect_equal_params(*pair.discriminator, "electra.", *net, "electra.");
}

TEST_F(ModelInit, HfClassifierHeadLoadedOnlyForTheSameLabels) {
  model::ElectraConfig c = tiny();
  c.architectures = {"ElectraForSequenceClassification"};
  c.num_labels = 3;
  c.id2label = {"contradiction", "entailment", "neutral"};
  torch::manual_seed(3);
  model::ElectraForSequenceClassification src_net(c);
  model::write_hf_model(path("mnli"), *src_net, c);
  const InitSource src = resolve_init_source(path("mnli"));
  EXPECT_EQ(src.tokenizer, path("mnli"));

  // CMNLI has the same three labels in the same order: the head is kept.
  ModelPlan plan =
      plan_model(config("cmnli", path("mnli")), src, {"contradiction", "entailment", "neutral"});
  ASSERT_TRUE(plan.load_head);
  model::ElectraForSequenceClassification net = build_model(plan, src);
  expect_equal_params(*src_net, "", *net, "");

  // The same names in another order would silently permute the classes: refused.
  EXPECT_THROW(
      plan_model(config("cmnli", path("mnli")), src, {"entailment", "neutral", "contradiction"}),
      UserError);
  EXPECT_THROW(plan_model(config("rte", path("mnli")), src, {"entailment", "not_entailment"}),
               UserError);
  // ... unless a fresh head is asked for: then only the encoder is loaded.
  ModelPlan fresh = plan_model(config("rte", path("mnli"), {"model.reset_head=true"}), src,
                               {"entailment", "not_entailment"});
  EXPECT_FALSE(fresh.load_head);
  EXPECT_EQ(fresh.config.num_labels, 2);
  torch::manual_seed(4);
  model::ElectraForSequenceClassification rte = build_model(fresh, src);
  expect_equal_params(*src_net, "electra.", *rte, "electra.");
}

TEST_F(ModelInit, GenericLabelNamesAndRegressionHeads) {
  model::ElectraConfig c = tiny();
  c.architectures = {"ElectraForSequenceClassification"};
  c.num_labels = 2;  // HF default names LABEL_0, LABEL_1: any 2-label task may use the head
  EXPECT_EQ(head_mismatch(c, find_task("sst-2", "t"), {"0", "1"}), "");
  c.num_labels = 1;  // num_labels 1 without problem_type: a regression head (HF convention)
  EXPECT_EQ(head_mismatch(c, find_task("sts-b", "t"), {}), "");
  EXPECT_NE(head_mismatch(c, find_task("sst-2", "t"), {"0", "1"}).find("regression"),
            std::string::npos);
}

TEST_F(ModelInit, TokenizerLargerThanTheModelVocabularyIsRefused) {
  model::ElectraConfig c = tiny();
  c.vocab_size = 10;
  c.architectures = {"ElectraForPreTraining"};
  model::ElectraForPreTraining net(c);
  model::write_hf_model(path("small_vocab"), *net, c);
  const InitSource src = resolve_init_source(path("small_vocab"));
  const FinetuneConfig fc = config("cola", path("small_vocab"));
  ModelPlan plan = plan_model(fc, src, {"0", "1"});
  try {
    fit_tokenizer(plan, fc, 36, 0, "words.txt");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("has 36 tokens but the model's vocabulary has 10"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(resolve_init_source(path("nothing_here")), UserError);
}

}  // namespace
}  // namespace electra::finetune
