// GLUE and CLUE readers against the fixtures in tests/fixtures/{glue,clue}: every task's
// columns/fields, headers and quirks, and the bad-input messages (file and line).
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/fs.h"
#include "finetune/dataset.h"
#include "finetune/task.h"

namespace electra::finetune {
namespace {

const std::string kGlue = std::string(ELECTRA_TEST_DATA) + "/glue";
const std::string kClue = std::string(ELECTRA_TEST_DATA) + "/clue";

TaskData load(const std::string& task, const std::string& root) {
  return load_task_data(find_task(task, "test"), root, LoadOptions{}, "test");
}

std::string label_of(const TaskData& d, const TextExample& ex) {
  return d.labels.at(static_cast<size_t>(ex.label));
}

// Expects a UserError whose message contains every fragment.
template <class F>
void expect_user_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    for (const auto& frag : fragments)
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << frag;
  }
}

TEST(TaskRegistry, FindsTasksCaseInsensitivelyWithAliases) {
  EXPECT_EQ(find_task("CoLA", "t").name, "cola");
  EXPECT_EQ(find_task("sst2", "t").name, "sst-2");
  EXPECT_EQ(find_task("STS-B", "t").name, "sts-b");
  EXPECT_EQ(find_task("CLUEWSC2020", "t").name, "cluewsc2020");
  EXPECT_EQ(all_tasks().size(), 16u);
  expect_user_error([] { find_task("colaa", "task.name (x.yaml:2)"); },
                    {"x.yaml:2", "unknown task 'colaa'", "did you mean 'cola'"});
  expect_user_error([] { find_task("afqcm", "t"); }, {"did you mean 'afqmc'"});
}

TEST(TaskRegistry, SubmissionFilesAndMetrics) {
  EXPECT_EQ(find_task("mnli", "t").test[1].submission, "MNLI-mm.tsv");
  EXPECT_EQ(find_task("cola", "t").test[0].submission, "CoLA.tsv");
  EXPECT_EQ(find_task("tnews", "t").test[0].submission, "tnews11_predict.json");
  EXPECT_EQ(find_task("afqmc", "t").test[0].submission, "afqmc_predict.json");
  EXPECT_EQ(find_task("cola", "t").primary, "mcc");
  EXPECT_EQ(find_task("sts-b", "t").metrics, (std::vector<std::string>{"pearson", "spearman"}));
  EXPECT_EQ(find_task("qqp", "t").metrics, (std::vector<std::string>{"accuracy", "f1"}));
  EXPECT_EQ(find_task("iflytek", "t").labels.size(), 119u);
  EXPECT_EQ(find_task("tnews", "t").labels.size(), 15u);
}

TEST(GlueReader, CoLAHasNoHeaderInTrainAndDevButATestHeader) {
  const TaskData d = load("cola", kGlue);
  ASSERT_EQ(d.train.examples.size(), 3u);
  EXPECT_EQ(d.train.examples[0].text_a,
            "Our friends won't buy this analysis, let alone the next one we propose.");
  EXPECT_EQ(label_of(d, d.train.examples[1]), "0");
  EXPECT_EQ(d.train.examples[2].text_a, "The \"quoted\" word stays as it is.");  // no quoting
  EXPECT_TRUE(d.train.examples[0].text_b.empty());
  ASSERT_EQ(d.dev.size(), 1u);
  EXPECT_EQ(d.dev[0].examples.size(), 2u);
  ASSERT_EQ(d.test.size(), 1u);
  EXPECT_EQ(d.test[0].examples[1].id, "1");
  EXPECT_EQ(d.test[0].examples[1].text_a, "The car honked its way down the road.");
  EXPECT_EQ(d.test[0].examples[1].label, -1);
}

TEST(GlueReader, SST2HeaderAndCRLF) {
  const TaskData d = load("sst-2", kGlue);
  EXPECT_EQ(d.train.examples.size(), 3u);
  EXPECT_EQ(label_of(d, d.train.examples[2]), "1");
  ASSERT_EQ(d.dev[0].examples.size(), 2u);
  EXPECT_EQ(d.dev[0].examples[1].text_a, "unflinchingly bleak and desperate ");
  EXPECT_EQ(label_of(d, d.dev[0].examples[1]), "0");  // no '\r' left on the label
  EXPECT_EQ(d.dev[0].examples[1].line, 3);
}

TEST(GlueReader, MRPCHeaderWithByteOrderMark) {
  const TaskData d = load("mrpc", kGlue);
  ASSERT_EQ(d.train.examples.size(), 2u);
  EXPECT_EQ(label_of(d, d.train.examples[0]), "1");
  EXPECT_EQ(d.train.examples[0].text_a, "Amrozi accused his brother of distorting evidence.");
  EXPECT_EQ(d.train.examples[0].text_b,
            "Referring to him, Amrozi accused his brother of distorting evidence.");
  EXPECT_EQ(d.test[0].examples[0].id, "0");
  EXPECT_EQ(d.test[0].examples[0].text_b, "Current Chief Operating Officer will become CEO.");
}

TEST(GlueReader, STSBScoresAndUnlabelledTest) {
  const TaskData d = load("sts-b", kGlue);
  ASSERT_EQ(d.dev[0].examples.size(), 3u);
  EXPECT_FLOAT_EQ(d.dev[0].examples[1].target, 4.75f);
  EXPECT_FLOAT_EQ(d.dev[0].examples[2].target, 0.5f);
  EXPECT_EQ(d.dev[0].examples[2].text_b, "A woman is slicing an onion.");
  EXPECT_EQ(d.test[0].examples[0].text_a, "A girl is styling her hair.");
}

TEST(GlueReader, QQPSkipsMalformedRows) {
  const TaskData d = load("qqp", kGlue);
  // The question broken over two lines makes two short rows; both are skipped.
  ASSERT_EQ(d.train.examples.size(), 3u);
  EXPECT_EQ(d.train.skipped, 2);
  EXPECT_EQ(d.train.examples[2].text_a, "What can one do after MBBS?");
  EXPECT_EQ(d.train.examples[2].line, 6);
  EXPECT_EQ(d.test[0].examples[0].id, "0");
  EXPECT_EQ(d.test[0].examples[0].text_b, "Why are rockets and boosters painted white?");
}

TEST(GlueReader, MNLIHasTwoDevAndTwoTestFiles) {
  const TaskData d = load("mnli", kGlue);
  ASSERT_EQ(d.train.examples.size(), 3u);
  EXPECT_EQ(label_of(d, d.train.examples[2]), "contradiction");
  ASSERT_EQ(d.dev.size(), 2u);
  EXPECT_EQ(d.dev[0].file.split, "dev_matched");
  EXPECT_EQ(d.dev[1].file.split, "dev_mismatched");
  EXPECT_EQ(label_of(d, d.dev[0].examples[0]), "neutral");  // gold_label, not label1
  EXPECT_EQ(d.dev[0].examples[0].text_a, "The new rights are nice enough");
  ASSERT_EQ(d.test.size(), 2u);
  EXPECT_EQ(d.test[1].file.submission, "MNLI-mm.tsv");
  EXPECT_EQ(d.test[1].examples[0].text_b, "We started poorly.");

  LoadOptions one;
  one.dev_split = "dev_mismatched";
  const TaskData m = load_task_data(find_task("mnli", "t"), kGlue, one, "t");
  ASSERT_EQ(m.dev.size(), 1u);
  EXPECT_EQ(m.dev[0].examples.size(), 1u);
}

TEST(GlueReader, PairTasksQNLIRTEWNLI) {
  for (const char* name : {"qnli", "rte", "wnli"}) {
    const TaskData d = load(name, kGlue);
    ASSERT_EQ(d.train.examples.size(), 2u) << name;
    EXPECT_FALSE(d.train.examples[0].text_b.empty()) << name;
    EXPECT_EQ(d.dev[0].examples.size(), 2u) << name;
    EXPECT_EQ(d.test[0].examples.size(), 2u) << name;
  }
  const TaskData rte = load("rte", kGlue);
  EXPECT_EQ(label_of(rte, rte.dev[0].examples[0]), "not_entailment");
}

TEST(ClueReader, AfqmcPairsAndTestIds) {
  const TaskData d = load("afqmc", kClue);
  ASSERT_EQ(d.train.examples.size(), 2u);
  EXPECT_EQ(d.train.examples[0].text_a, "双十一花呗提额在哪");
  EXPECT_EQ(d.train.examples[0].text_b, "里可以提花呗额度");
  EXPECT_EQ(label_of(d, d.train.examples[1]), "1");
  EXPECT_EQ(d.test[0].examples[1].id, "1");
}

TEST(ClueReader, TnewsLabelsFromLabelsJson) {
  const TaskData d = load("tnews", kClue);
  ASSERT_EQ(d.labels.size(), 15u);
  EXPECT_EQ(d.labels[0], "100");
  EXPECT_EQ(d.labels[5], "106");  // 105 is not a TNEWS class
  EXPECT_EQ(label_of(d, d.train.examples[0]), "102");
  EXPECT_EQ(d.train.examples[0].text_a, "江疏影甜甜圈自拍，迷之角度竟这么好看");
  EXPECT_TRUE(d.train.examples[0].text_b.empty());
}

TEST(ClueReader, IflytekBuiltInLabelsWithoutLabelsJson) {
  const TaskData d = load("iflytek", kClue);
  ASSERT_EQ(d.labels.size(), 119u);
  EXPECT_EQ(d.train.examples[0].label, 110);
  EXPECT_EQ(label_of(d, d.dev[0].examples[0]), "70");
}

TEST(ClueReader, OcnliDropsUnagreedRows) {
  const TaskData d = load("ocnli", kClue);
  ASSERT_EQ(d.train.examples.size(), 2u);
  EXPECT_EQ(d.train.skipped, 1);
  EXPECT_EQ(label_of(d, d.train.examples[1]), "contradiction");
  const TaskData c = load("cmnli", kClue);
  EXPECT_EQ(label_of(c, c.train.examples[0]), "neutral");
}

TEST(ClueReader, WscMarksBothSpansByCharacterIndex) {
  const TaskData d = load("cluewsc2020", kClue);
  ASSERT_EQ(d.train.examples.size(), 2u);
  EXPECT_EQ(
      d.train.examples[0].text_a,
      "这时候放在_床_上枕头旁边的手机响了，我感到奇怪，因为欠费已被停机两个月，现在[它]突然响了。");
  EXPECT_EQ(
      d.train.examples[1].text_a,
      "这时候放在床上枕头旁边的_手机_响了，我感到奇怪，因为欠费已被停机两个月，现在[它]突然响了。");
  EXPECT_EQ(label_of(d, d.train.examples[1]), "true");
  EXPECT_EQ(d.test[0].examples[0].id, "5");  // the "idx" field
}

TEST(ClueReader, CslJoinsKeywords) {
  const TaskData d = load("csl", kClue);
  EXPECT_EQ(d.train.examples[0].text_a, "水声学 FFT 波束形成 3维成像声呐");
  EXPECT_EQ(d.train.examples[0].text_b,
            "为解决传统均匀FFT波束形成算法引起的3维声呐成像分辨率降低的问题");
  EXPECT_EQ(d.test[0].examples[0].id, "0");
}

// --- bad input ---------------------------------------------------------------------------------

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("electra_readers_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::electra::fs::remove_all(root_);
  }
  void TearDown() override { ::electra::fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    const auto p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  std::string root() const { return root_.string(); }
  std::filesystem::path root_;
};

TEST_F(BadInput, MissingColumnNamesFileAndColumn) {
  write("SST-2/train.tsv", "text\tlabel\nfine\t1\n");
  write("SST-2/dev.tsv", "sentence\tlabel\nok\t1\n");
  expect_user_error([&] { load("sst-2", root()); },
                    {"SST-2/train.tsv:1", "no column 'sentence'", "text, label"});
}

TEST_F(BadInput, ShortRowNamesLine) {
  write("RTE/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one\n");
  write("RTE/dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n");
  expect_user_error([&] { load("rte", root()); },
                    {"RTE/train.tsv:3", "expected at least 4 tab-separated columns", "found 2"});
}

TEST_F(BadInput, UnknownLabelNamesLineAndExpectedLabels) {
  write("CoLA/train.tsv", "gj04\t1\t\tgood.\ngj04\t2\t\tbad label.\n");
  write("CoLA/dev.tsv", "gj04\t1\t\tgood.\n");
  expect_user_error([&] { load("cola", root()); },
                    {"CoLA/train.tsv:2", "unknown label '2'", "expected one of: 0, 1"});
  write("tnews/labels.json", "{\"label\": \"100\"}\n{\"label\": \"101\"}\n");
  write("tnews/train.json",
        "{\"sentence\": \"x\", \"label\": \"100\"}\n{\"sentence\": \"y\", \"label\": \"999\"}\n");
  write("tnews/dev.json", "{\"sentence\": \"x\", \"label\": \"101\"}\n");
  expect_user_error([&] { load("tnews", root()); }, {"tnews/train.json:2", "unknown label '999'"});
}

TEST_F(BadInput, EmptyFiles) {
  write("SST-2/train.tsv", "");
  write("SST-2/dev.tsv", "sentence\tlabel\nok\t1\n");
  expect_user_error([&] { load("sst-2", root()); }, {"SST-2/train.tsv", "empty"});
  write("SST-2/train.tsv", "sentence\tlabel\n");
  expect_user_error([&] { load("sst-2", root()); }, {"SST-2/train.tsv", "no examples"});
  write("afqmc/train.json", "\n");
  write("afqmc/dev.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"0\"}\n");
  expect_user_error([&] { load("afqmc", root()); }, {"afqmc/train.json", "no examples"});
}

TEST_F(BadInput, ClueMissingFieldAndBadJson) {
  write("afqmc/train.json", "{\"sentence1\": \"a\", \"label\": \"0\"}\n");
  write("afqmc/dev.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"0\"}\n");
  expect_user_error([&] { load("afqmc", root()); }, {"afqmc/train.json:1", "no field 'sentence2'"});
  write("afqmc/train.json",
        "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"0\"}\n{oops\n");
  expect_user_error([&] { load("afqmc", root()); }, {"afqmc/train.json:2", "not valid JSON"});
  // A number too large for a double: nlohmann throws out_of_range, not parse_error (found by
  // fuzz_clue_jsonl; it used to escape as a library exception).
  write("afqmc/train.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"x\": 1E999}\n");
  expect_user_error([&] { load("afqmc", root()); }, {"afqmc/train.json:1", "not valid JSON"});
  write("afqmc/train.json", "{\"sentence1\": \"a\", \"sentence2\": \"b\"}\n");
  expect_user_error([&] { load("afqmc", root()); }, {"afqmc/train.json:1", "no field 'label'"});
}

TEST_F(BadInput, WscSpanOutOfPlace) {
  write("cluewsc2020/train.json",
        "{\"target\": {\"span2_index\": 1, \"span1_index\": 0, \"span1_text\": \"猫\", "
        "\"span2_text\": \"它\"}, \"idx\": 0, \"label\": \"true\", \"text\": \"狗它\"}\n");
  write("cluewsc2020/dev.json", "");
  expect_user_error([&] { load("cluewsc2020", root()); },
                    {"cluewsc2020/train.json:1", "span '猫' is not at character 0"});
}

TEST_F(BadInput, MissingFilesAndTaskFolder) {
  write("SST-2/train.tsv", "sentence\tlabel\nok\t1\n");
  expect_user_error([&] { load("sst-2", root()); },
                    {"dev file", "SST-2/dev.tsv", "does not exist"});
  expect_user_error([&] { load("cola", root()); }, {"no folder 'CoLA'"});
}

}  // namespace
}  // namespace electra::finetune
