// `electra finetune` and `electra eval` end to end: bad inputs stop before any training with
// one clear message (file, line, what to do), and a tiny real run prints its metrics line,
// writes its outputs, and `electra eval` reproduces the score from the saved model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/fs.h"
#include "common/strings.h"
#include "data/tokenizer.h"
#include "model/hf_io.h"

namespace electra {
namespace {

namespace stdfs = std::filesystem;

struct Cli {
  int code = -1;
  std::string out;  // stdout + stderr
};

Cli run_electra(const std::string& args) {
  const std::string cmd = std::string(ELECTRA_BINARY) + " " + args + " 2>&1";
  Cli r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class FinetuneCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() /
           ("electra_ftcli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::electra::fs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { ::electra::fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  void write(const std::string& rel, const std::string& text) {
    stdfs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }
  // Common flags: a data root and an output dir inside the test directory.
  std::string flags(const std::string& task, const std::string& data_dir) {
    return "--set task.name=" + task + " --set data.dir=" + data_dir +
           " --set output.dir=" + path("out");
  }
  void expect_failure(const Cli& r, std::initializer_list<std::string> fragments) {
    EXPECT_EQ(r.code, 2) << r.out;
    for (const auto& f : fragments)
      EXPECT_NE(r.out.find(f), std::string::npos) << "missing '" << f << "' in:\n" << r.out;
    // Nothing ran half-way: no results were written.
    EXPECT_FALSE(stdfs::exists(path("out/dev_results.jsonl")));
    EXPECT_FALSE(stdfs::exists(path("out/best_model")));
  }
  stdfs::path dir_;
};

const std::string kGlue = std::string(ELECTRA_TEST_DATA) + "/glue";

TEST_F(FinetuneCli, UnknownTaskSuggestsTheClosest) {
  expect_failure(run_electra("finetune " + flags("colaa", kGlue)),
                 {"unknown task 'colaa'", "did you mean 'cola'", "--set"});
  expect_failure(run_electra("eval --model " + path("none") + " --task mrcp --data-dir " + kGlue),
                 {"unknown task 'mrcp'", "did you mean 'mrpc'"});
  expect_failure(run_electra("eval --model " + path("none") + " --task mrpc --data-dir " + kGlue),
                 {"is not a model directory"});
}

TEST_F(FinetuneCli, MissingColumn) {
  write("g/SST-2/train.tsv", "sentence\tlabel\ngood\t1\n");
  write("g/SST-2/dev.tsv", "sentence\tstars\nbad\t0\n");
  expect_failure(run_electra("finetune " + flags("sst-2", path("g"))),
                 {"SST-2/dev.tsv:1", "no column 'label'", "sentence, stars"});
}

TEST_F(FinetuneCli, UnknownLabel) {
  write("g/CoLA/train.tsv", "gj04\t1\t\tgood.\ngj04\tyes\t\tbad.\n");
  write("g/CoLA/dev.tsv", "gj04\t1\t\tgood.\n");
  expect_failure(run_electra("finetune " + flags("cola", path("g"))),
                 {"CoLA/train.tsv:2", "unknown label 'yes'", "expected one of: 0, 1"});
}

TEST_F(FinetuneCli, EmptyFileIncludingABadTestFile) {
  write("c/afqmc/train.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"0\"}\n");
  write("c/afqmc/dev.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"1\"}\n");
  write("c/afqmc/test.json", "");
  // The test file is validated before training, not after it.
  expect_failure(run_electra("finetune " + flags("afqmc", path("c"))),
                 {"afqmc/test.json", "no examples"});
}

TEST_F(FinetuneCli, ImportedHeadWithAnotherLabelCount) {
  model::ElectraConfig c;
  c.vocab_size = 50;
  c.embedding_size = c.hidden_size = 16;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 64;
  c.num_labels = 3;
  c.id2label = {"contradiction", "entailment", "neutral"};
  c.architectures = {"ElectraForSequenceClassification"};
  model::ElectraForSequenceClassification net(c);
  model::write_hf_model(path("mnli_model"), *net, c);
  const Cli r = run_electra("finetune " + flags("cola", kGlue) +
                            " --set model.init_from=" + path("mnli_model"));
  expect_failure(r, {"mnli_model/config.json",
                     "predicts 3 labels (contradiction, entailment, "
                     "neutral)",
                     "cola needs 2 labels", "model.reset_head=true"});
  // The architecture comes from the checkpoint: a disagreeing model.* key is an error too.
  expect_failure(run_electra("finetune " + flags("cola", kGlue) +
                             " --set model.init_from=" + path("mnli_model") +
                             " --set model.reset_head=true" + " --set model.hidden_size=32"),
                 {"model.hidden_size = 32 (--set) disagrees with", "(16)"});
}

// A real (tiny) run: SentencePiece vocabulary trained on the fixture text, random init,
// a few steps on the CoLA fixture; then `electra eval` on the saved model; then a 2-seed sweep.
TEST_F(FinetuneCli, TinyRunEvalAndSeedSweep) {
  {
    std::ofstream corpus(path("corpus.txt"));
    for (const char* task :
         {"CoLA/train.tsv", "SST-2/train.tsv", "MRPC/train.tsv", "RTE/train.tsv"}) {
      std::ifstream in(kGlue + "/" + task);
      std::string line;
      for (int rep = 0; rep < 20; ++rep) {
        in.clear();
        in.seekg(0);
        while (std::getline(in, line))
          corpus << line << "\n";
      }
    }
  }
  const Cli vocab = run_electra("vocab --input " + path("corpus.txt") + " --vocab-size 120 --out " +
                                path("vocab"));
  ASSERT_EQ(vocab.code, 0) << vocab.out;
  const std::string base =
      "finetune " + flags("cola", kGlue) + " --set data.tokenizer=" + path("vocab/spm.model") +
      " --set model.hidden_size=16 --set model.embedding_size=16"
      " --set model.num_hidden_layers=1 --set model.num_attention_heads=2"
      " --set model.intermediate_size=32 --set data.max_seq_len=32"
      " --set train.max_steps=3 --set train.batch_size=2 --set train.threads=1";
  const Cli r = run_electra(base);
  ASSERT_EQ(r.code, 0) << r.out;
  // The last stdout line is the metrics line.
  const auto lines = split(std::string(trim(r.out)), '\n');
  const auto j = nlohmann::json::parse(lines.back());
  EXPECT_EQ(j["task"], "cola");
  EXPECT_EQ(j["split"], "dev");
  ASSERT_TRUE(j.contains("mcc"));
  EXPECT_TRUE(stdfs::exists(path("out/submission/CoLA.tsv")));
  EXPECT_TRUE(stdfs::exists(path("out/best_model/spm.model")));

  const Cli e = run_electra("eval --model " + path("out/best_model") + " --data-dir " + kGlue);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_EQ(split(std::string(trim(e.out)), '\n').back(), lines.back());

  const Cli s = run_electra(base + " --seeds 1,2");
  ASSERT_EQ(s.code, 0) << s.out;
  const auto summary = nlohmann::json::parse(split(std::string(trim(s.out)), '\n').back());
  EXPECT_EQ(summary["metric"], "mcc");
  EXPECT_EQ(summary["seeds"], nlohmann::json::parse("[1, 2]"));
  EXPECT_LE(summary["min"].get<double>(), summary["median"].get<double>());
  EXPECT_LE(summary["median"].get<double>(), summary["max"].get<double>());
  EXPECT_TRUE(stdfs::exists(path("out/seed-2/dev_results.jsonl")));
  EXPECT_TRUE(stdfs::exists(path("out/sweep_summary.jsonl")));
}

}  // namespace
}  // namespace electra
