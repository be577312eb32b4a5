#include "finetune/task.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace electra::finetune {
namespace {

Column col(const std::string& name) {
  return Column{name, -1};
}
Column pos(int index) {
  return Column{"", index};
}

// GLUE: train.tsv / dev.tsv / test.tsv with the columns of the official release
// (gluebenchmark.com, download_glue_data.py layout).
TaskSpec glue(const std::string& name, const std::string& folder, std::vector<std::string> labels,
              std::vector<std::string> metrics, const std::string& submission) {
  TaskSpec t;
  t.name = name;
  t.display = folder;
  t.benchmark = Benchmark::kGlue;
  t.folder = folder;
  t.labels = std::move(labels);
  t.metrics = std::move(metrics);
  t.primary = t.metrics[0];
  t.train = {"train", "train.tsv", ""};
  t.dev = {{"dev", "dev.tsv", ""}};
  t.test = {{"test", "test.tsv", submission}};
  t.test_index = col("index");
  return t;
}

TaskSpec clue(const std::string& name, std::vector<std::string> labels, const std::string& field_a,
              const std::string& field_b, const std::string& submission) {
  TaskSpec t;
  t.name = name;
  t.display = name;
  t.benchmark = Benchmark::kClue;
  t.folder = name;
  t.labels = std::move(labels);
  t.metrics = {"accuracy"};
  t.primary = "accuracy";
  t.field_a = field_a;
  t.field_b = field_b;
  t.train = {"train", "train.json", ""};
  t.dev = {{"dev", "dev.json", ""}};
  t.test = {{"test", "test.json", submission}};
  return t;
}

std::vector<std::string> range_labels(int first, int last, std::vector<int> skip = {}) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i)
    if (std::find(skip.begin(), skip.end(), i) == skip.end()) out.push_back(std::to_string(i));
  return out;
}

// The texts and the label by header name; the test file has the same text columns.
TaskSpec& named(TaskSpec& t, const std::string& a, const std::string& b, const std::string& label) {
  t.text_a = t.test_a = col(a);
  if (!b.empty()) t.text_b = t.test_b = col(b);
  t.label = col(label);
  return t;
}

std::vector<TaskSpec> build() {
  const std::vector<std::string> bin = {"0", "1"};
  const std::vector<std::string> nli3 = {"contradiction", "entailment", "neutral"};
  const std::vector<std::string> nli2 = {"entailment", "not_entailment"};
  std::vector<TaskSpec> v;

  // CoLA: train/dev have no header: source, label, original label, sentence.
  TaskSpec cola = glue("cola", "CoLA", bin, {"mcc"}, "CoLA.tsv");
  cola.header = false;
  cola.label = pos(1);
  cola.text_a = pos(3);
  cola.test_a = col("sentence");
  v.push_back(cola);

  TaskSpec sst = glue("sst-2", "SST-2", bin, {"accuracy"}, "SST-2.tsv");
  v.push_back(named(sst, "sentence", "", "label"));

  // MRPC: "Quality  #1 ID  #2 ID  #1 String  #2 String"; the header may start with a BOM.
  TaskSpec mrpc = glue("mrpc", "MRPC", bin, {"accuracy", "f1"}, "MRPC.tsv");
  mrpc.positive_label = "1";
  v.push_back(named(mrpc, "#1 String", "#2 String", "Quality"));

  // STS-B: index genre filename year old_index source1 source2 sentence1 sentence2 score.
  TaskSpec sts = glue("sts-b", "STS-B", {}, {"pearson", "spearman"}, "STS-B.tsv");
  sts.regression = true;
  v.push_back(named(sts, "sentence1", "sentence2", "score"));

  // QQP: id qid1 qid2 question1 question2 is_duplicate; test: id question1 question2. Some
  // releases hold rows with missing fields (a question broken over lines): skipped, counted.
  TaskSpec qqp = glue("qqp", "QQP", bin, {"accuracy", "f1"}, "QQP.tsv");
  qqp.test_index = col("id");
  qqp.positive_label = "1";
  qqp.skip_malformed = true;
  v.push_back(named(qqp, "question1", "question2", "is_duplicate"));

  // MNLI: sentence1/sentence2 are columns 8/9; train has label1 + gold_label, dev has
  // label1..label5 + gold_label. Two dev and two test files.
  TaskSpec mnli = glue("mnli", "MNLI", nli3, {"accuracy"}, "");
  mnli.dev = {{"dev_matched", "dev_matched.tsv", ""}, {"dev_mismatched", "dev_mismatched.tsv", ""}};
  mnli.test = {{"test_matched", "test_matched.tsv", "MNLI-m.tsv"},
               {"test_mismatched", "test_mismatched.tsv", "MNLI-mm.tsv"}};
  v.push_back(named(mnli, "sentence1", "sentence2", "gold_label"));

  TaskSpec qnli = glue("qnli", "QNLI", nli2, {"accuracy"}, "QNLI.tsv");
  v.push_back(named(qnli, "question", "sentence", "label"));
  TaskSpec rte = glue("rte", "RTE", nli2, {"accuracy"}, "RTE.tsv");
  v.push_back(named(rte, "sentence1", "sentence2", "label"));
  TaskSpec wnli = glue("wnli", "WNLI", bin, {"accuracy"}, "WNLI.tsv");
  v.push_back(named(wnli, "sentence1", "sentence2", "label"));

  // CLUE 1.1 (github.com/CLUEbenchmark/CLUE): JSON lines; submission names from its
  // submission guide (tnews11, cluewsc11 and ocnli_50k for the 1.1 test sets).
  v.push_back(clue("afqmc", bin, "sentence1", "sentence2", "afqmc_predict.json"));
  v.back().display = "AFQMC";
  // TNEWS: 15 classes "100".."116" without 105 and 111 (labels.json lists them).
  v.push_back(
      clue("tnews", range_labels(100, 116, {105, 111}), "sentence", "", "tnews11_predict.json"));
  v.back().display = "TNEWS";
  v.back().labels_json = true;
  v.push_back(clue("iflytek", range_labels(0, 118), "sentence", "", "iflytek_predict.json"));
  v.back().display = "IFLYTEK";
  v.back().labels_json = true;
  v.push_back(clue("cmnli", nli3, "sentence1", "sentence2", "cmnli_predict.json"));
  v.back().display = "CMNLI";
  v.back().drop_label = "-";
  // OCNLI: rows whose annotators did not agree carry label "-"; CLUE drops them.
  v.push_back(clue("ocnli", nli3, "sentence1", "sentence2", "ocnli_50k_predict.json"));
  v.back().display = "OCNLI";
  v.back().drop_label = "-";
  v.push_back(clue("cluewsc2020", {"true", "false"}, "text", "", "cluewsc11_predict.json"));
  v.back().display = "CLUEWSC2020";
  v.back().layout = ClueLayout::kWscMarkers;
  v.push_back(clue("csl", bin, "keyword", "abst", "csl_predict.json"));
  v.back().display = "CSL";
  v.back().layout = ClueLayout::kKeywords;
  return v;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

const std::vector<TaskSpec>& all_tasks() {
  static const std::vector<TaskSpec> tasks = build();
  return tasks;
}

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const auto& t : all_tasks())
    out.push_back(t.name);
  return out;
}

const TaskSpec& find_task(const std::string& name_in, const std::string& what) {
  std::string name = lower(std::string(trim(name_in)));
  static const std::vector<std::pair<std::string, std::string>> aliases = {
      {"sst2", "sst-2"},      {"sst", "sst-2"},           {"stsb", "sts-b"},   {"sts", "sts-b"},
      {"wsc", "cluewsc2020"}, {"cluewsc", "cluewsc2020"}, {"tnews11", "tnews"}};
  for (const auto& [alias, target] : aliases)
    if (name == alias) name = target;
  for (const auto& t : all_tasks())
    if (t.name == name) return t;
  const auto names = task_names();
  throw_user(what, ": unknown task '", name_in, "'; did you mean '", closest_match(name, names),
             "'? Known tasks: ", join(names, ", "));
}

std::string task_dir(const std::string& data_dir, const TaskSpec& task, const std::string& what) {
  ELECTRA_CHECK_USER(!data_dir.empty(), what,
                     " is not set: give the GLUE or CLUE root directory "
                     "(one folder per task, e.g. <dir>/",
                     task.folder, "/", task.train.file, ")");
  ELECTRA_CHECK_USER(fs::is_dir(data_dir), what, ": '", data_dir, "' is not a directory");
  // The official folder name, then case-insensitive (CLUE zips unpack as e.g. "afqmc_public").
  const std::string direct = fs::join(data_dir, task.folder);
  if (fs::is_dir(direct)) return direct;
  for (const auto& entry : fs::list_dir(data_dir)) {
    const std::string l = lower(entry);
    if ((l == lower(task.folder) || l == task.name || l == lower(task.folder) + "_public") &&
        fs::is_dir(fs::join(data_dir, entry)))
      return fs::join(data_dir, entry);
  }
  // data_dir may be the task folder itself.
  for (const auto& s : task.dev)
    if (fs::exists(fs::join(data_dir, s.file))) return data_dir;
  throw_user(what, ": '", data_dir, "' has no folder '", task.folder, "' for task ", task.name,
             " (expected ", fs::join(direct, task.dev[0].file), ")");
}

}  // namespace electra::finetune
