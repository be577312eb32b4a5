// The `electra` binary end to end: help, config errors and every bad input of the pretraining
// job, each of which must end with one clear message, exit code 2 and no half-written output.
#include <gtest/gtest.h>

#include "common/fs.h"
#include "tests/support/pretrain_fixture.h"
#include "tests/support/run_command.h"

namespace electra {
namespace {

using testing::electra;
using testing::PretrainFixture;
using testing::TempDir;

std::vector<std::string> with(std::vector<std::string> base, std::vector<std::string> extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

// `electra pretrain --set ... --set ...`
testing::CommandResult pretrain(const std::vector<std::string>& sets,
                                const std::string& config = "") {
  std::string cmd = testing::shell_quote(ELECTRA_BINARY) + " pretrain";
  if (!config.empty()) cmd += " --config " + testing::shell_quote(config);
  for (const auto& s : sets)
    cmd += " --set " + testing::shell_quote(s);
  return testing::run_command(cmd);
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(Cli, HelpForEveryCommand) {
  auto top = electra("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const char* c : {"pretrain", "export", "vocab", "config show", "plot"})
    EXPECT_TRUE(contains(top.output, c)) << c;
  for (const char* c : {"pretrain", "export", "vocab", "plot"}) {
    auto r = electra(c, "--help");
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_TRUE(contains(r.output, "usage: electra")) << r.output;
  }
  EXPECT_EQ(electra("config", "show", "--help").exit_code, 0);
  auto bad = electra("pretrian");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.output, "did you mean 'pretrain'")) << bad.output;
  auto flag = electra("export", "--chekpoint", "x");
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_TRUE(contains(flag.output, "--checkpoint")) << flag.output;
}

TEST(Cli, ConfigShowAppliesPrecedenceAndReportsBadKeys) {
  TempDir t;
  const auto cfg =
      t.write("exp.yaml", "train:\n  steps: 7\n  batch_size: 16\noptimizer:\n  lr: 1e-3\n");
  auto r = electra("config", "show", "--config", cfg, "--set", "train.steps=9");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "steps: 9"));
  EXPECT_TRUE(contains(r.output, "batch_size: 16"));
  EXPECT_TRUE(contains(r.output, "lr: 0.001"));
  EXPECT_TRUE(contains(r.output, "disc_weight: 50"));
  const auto bad = t.write("bad.yaml", "model:\n  hidden_sise: 64\n");
  auto e = electra("config", "show", "--config", bad);
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_TRUE(contains(e.output, bad + ":2")) << e.output;
  EXPECT_TRUE(contains(e.output, "did you mean 'model.hidden_size'")) << e.output;
  auto ty = electra("config", "show", "--set", "train.precision=fp8");
  EXPECT_EQ(ty.exit_code, 2);
  EXPECT_TRUE(contains(ty.output, "fp32, bf16")) << ty.output;
}

class BadInput : public ::testing::Test {
 protected:
  PretrainFixture f{60};
  std::string out = f.dir.file("out");
  std::vector<std::string> base() const { return f.overrides(out, 5); }
  // Nothing that looks like a checkpoint may be left behind by a failed start.
  void expect_no_checkpoint() const {
    if (fs::exists(out + "/checkpoints")) {
      EXPECT_TRUE(fs::list_dir(out + "/checkpoints").empty());
    }
  }
};

TEST_F(BadInput, MissingCorpus) {
  auto r = pretrain(with(base(), {"data.files=[" + f.dir.file("nope") + "]"}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "data.files")) << r.output;
  EXPECT_TRUE(contains(r.output, "does not exist")) << r.output;
  expect_no_checkpoint();
}

TEST_F(BadInput, EmptyCorpus) {
  const auto empty = f.dir.write("empty/e.txt", "\n\n");
  auto r = pretrain(with(base(), {"data.files=[" + empty + "]"}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "holds no text")) << r.output;
  expect_no_checkpoint();
}

TEST_F(BadInput, NonUtf8Text) {
  const auto bad = f.dir.write("latin/l.txt", "good line\n\nna\xefve caf\xe9\n");
  auto r = pretrain(with(base(), {"data.files=[" + bad + "]"}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, bad + ":3")) << r.output;
  EXPECT_TRUE(contains(r.output, "UTF-8")) << r.output;
  expect_no_checkpoint();
}

TEST_F(BadInput, UnreadableTokenizer) {
  const auto junk = f.dir.write("junk.model", "not a sentencepiece model");
  auto r = pretrain(with(base(), {"data.tokenizer=" + junk}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, junk)) << r.output;
  auto missing = pretrain(with(base(), {"data.tokenizer=" + f.dir.file("none.model")}));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(contains(missing.output, "does not exist")) << missing.output;
}

TEST_F(BadInput, VocabularyMismatchNamesBothSizes) {
  auto r = pretrain(with(base(), {"model.vocab_size=30522"}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "30522")) << r.output;
  EXPECT_TRUE(contains(r.output, "tokens. Set model.vocab_size to")) << r.output;
}

TEST_F(BadInput, BadConfigFile) {
  const auto cfg = f.dir.write("bad.yaml", "train:\n  steps: many\n");
  auto r = pretrain(base(), cfg);
  // --set train.steps=5 in base() wins over the file, but the file is still checked.
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, cfg + ":2")) << r.output;
}

TEST_F(BadInput, UnwritableOutputDirectory) {
  const auto file = f.dir.write("a-file", "x");
  auto r = pretrain(with(base(), {"output.dir=" + file + "/run"}));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "output.dir")) << r.output;
}

TEST(Cli, TrainExportPlotEndToEnd) {
  PretrainFixture f(60);
  const std::string out = f.dir.file("run");
  auto r = pretrain(f.overrides(out, 10));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "step 10/10")) << r.output;
  auto e =
      electra("export", "--checkpoint", out, "--out", f.dir.file("hf"), "--part", "discriminator");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  for (const char* p : {"config.json", "model.safetensors", "spm.model"})
    EXPECT_TRUE(fs::exists(f.dir.file("hf/") + p)) << p;
  EXPECT_TRUE(contains(fs::read_file(f.dir.file("hf/config.json"), "t"), "ElectraForPreTraining"));
  auto none = electra("export", "--checkpoint", f.dir.path(), "--out", f.dir.file("hf2"));
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(contains(none.output, "no complete checkpoint")) << none.output;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    auto p = electra("plot", "--metrics", out, "--out", f.dir.file("loss.png"));
    EXPECT_EQ(p.exit_code, 0) << p.output;
    const std::string png = fs::read_file(f.dir.file("loss.png"), "t");
    EXPECT_EQ(png.substr(1, 3), "PNG");
  }
}

}  // namespace
}  // namespace electra
