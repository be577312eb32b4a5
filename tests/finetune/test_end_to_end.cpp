// A tiny randomly initialised ELECTRA fine-tuned on an easy synthetic task (label = whether the
// word "marker" occurs) must beat the majority class by far, write its outputs in the promised
// formats, and reload to the same score.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "common/config.h"
#include "common/fs.h"
#include "common/strings.h"
#include "distributed/communicator.h"
#include "finetune/dataset.h"
#include "finetune/evaluate.h"
#include "finetune/finetune_config.h"
#include "finetune/model_dir.h"
#include "finetune/trainer.h"
#include "synthetic.h"

namespace electra::finetune {
namespace {

std::vector<std::string> tiny_model(const std::string& data_dir, const std::string& out) {
  return {"task.name=sst-2",
          "data.dir=" + data_dir,
          "data.max_seq_len=16",
          "model.embedding_size=32",
          "model.hidden_size=32",
          "model.num_hidden_layers=2",
          "model.num_attention_heads=2",
          "model.intermediate_size=64",
          "model.max_position_embeddings=32",
          "train.batch_size=16",
          "train.epochs=6",
          "train.threads=1",
          "train.log_every=1000",
          "optimizer.lr=2e-3",
          "output.dir=" + out};
}

double majority(const SplitData& s) {
  double pos = 0;
  for (const auto& ex : s.examples)
    pos += ex.label == 1;
  return std::max(pos, s.examples.size() - pos) / s.examples.size();
}

TEST(FinetuneEndToEnd, LearnsTheMarkerTaskFromRandomInit) {
  testing::MarkerTask data(320, 160, "e2e");
  auto tok = std::make_shared<testing::WordTokenizer>(30);
  const Config cfg =
      Config::resolve(finetune_schema(), "", tiny_model(data.root(), data.out("run")));
  const FinetuneConfig fc = read_finetune_config(cfg);
  auto comm = dist::make_single_process_communicator();
  const FinetuneResult r = finetune(fc, cfg.to_yaml(), tok, *comm);

  LoadOptions lo;
  lo.train = false;
  const TaskData d = load_task_data(*fc.task, data.root(), lo, "t");
  const double base = majority(d.dev[0]);
  ASSERT_EQ(r.dev.size(), 1u);
  const double acc = metric_value(r.dev[0].second, "accuracy");
  EXPECT_GT(acc, std::max(0.9, base + 0.25)) << "majority class " << base;
  EXPECT_EQ(r.primary, acc);
  EXPECT_EQ(r.steps, 6 * 20);  // 320 / 16 batches per epoch
  EXPECT_GT(r.train_examples_per_s, 0);

  // dev_results.jsonl: one line {"task", "split", "accuracy"}.
  const std::string results = fs::read_file(data.out("run/dev_results.jsonl"), "results");
  const auto j = nlohmann::json::parse(split(results, '\n')[0]);
  EXPECT_EQ(j["task"], "sst-2");
  EXPECT_EQ(j["split"], "dev");
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), acc);
  EXPECT_EQ(r.json_lines[0], split(results, '\n')[0]);

  // The GLUE submission file: header and one "index\tlabel" row per test example.
  const auto sub = split(fs::read_file(data.out("run/submission/SST-2.tsv"), "sub"), '\n');
  ASSERT_GE(sub.size(), 11u);
  EXPECT_EQ(sub[0], "index\tprediction");
  EXPECT_TRUE(sub[1] == "0\t0" || sub[1] == "0\t1") << sub[1];

  // The best model is an HF ElectraForSequenceClassification that scores the same again.
  const std::string cfg_json = fs::read_file(data.out("run/best_model/config.json"), "config");
  const auto hf = nlohmann::json::parse(cfg_json);
  EXPECT_EQ(hf["architectures"][0], "ElectraForSequenceClassification");
  EXPECT_EQ(hf["id2label"]["1"], "1");
  LoadedClassifier m = read_finetuned_model(data.out("run/best_model"));
  ASSERT_TRUE(m.has_info);
  EXPECT_EQ(m.info.task, "sst-2");
  EXPECT_EQ(m.info.max_seq_len, 16);
  const auto feats = encode_examples(d.dev[0].examples, *tok, 16);
  const Predictions p = predict(m.net, feats, false, 64, at::kFloat, 0, *comm);
  EXPECT_DOUBLE_EQ(metric_value(score(*fc.task, d.labels, d.dev[0], p), "accuracy"), acc);
}

TEST(FinetuneEndToEnd, RegressionAndBf16) {
  // The marker task as STS-B: score 5 with the marker, 0 without; bf16 matmuls.
  testing::MarkerTask data(320, 120, "reg");
  const std::string sts = data.out("STS-B");
  fs::ensure_writable_dir(sts, "test");
  for (const char* split_name : {"train", "dev"}) {
    const auto rows =
        split(fs::read_file(data.out(std::string("SST-2/") + split_name + ".tsv"), "rows"), '\n');
    std::ofstream f(sts + "/" + split_name + ".tsv");
    f << "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    for (size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].empty()) continue;
      const auto cols = split(rows[i], '\t');
      f << i << "\tg\tf\ty\t0\tn\tn\t" << cols[0] << "\tw1 w2\t" << (cols[1] == "1" ? "5.0" : "0.0")
        << "\n";
    }
  }
  auto tok = std::make_shared<testing::WordTokenizer>(30);
  auto overrides = tiny_model(data.root(), data.out("reg"));
  overrides[0] = "task.name=sts-b";
  overrides.push_back("train.precision=bf16");
  overrides.push_back("train.eval_every=40");
  const Config cfg = Config::resolve(finetune_schema(), "", overrides);
  const FinetuneConfig fc = read_finetune_config(cfg);
  auto comm = dist::make_single_process_communicator();
  const FinetuneResult r = finetune(fc, cfg.to_yaml(), tok, *comm);
  EXPECT_GT(metric_value(r.dev[0].second, "pearson"), 0.9);
  EXPECT_GT(metric_value(r.dev[0].second, "spearman"), 0.8);
  EXPECT_GT(r.best_step, 0);
  // Every 40 steps plus the end: 120 steps -> evaluations at 40, 80, 120.
  const auto log = split(fs::read_file(data.out("reg/train_log.jsonl"), "log"), '\n');
  int evals = 0;
  for (const auto& line : log)
    evals += line.find("\"pearson\"") != std::string::npos;
  EXPECT_EQ(evals, 3);
}

}  // namespace
}  // namespace electra::finetune
