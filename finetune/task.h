// The GLUE and CLUE task registry: for each task, where its files are, which columns or JSON
// fields hold the texts and the label, the label list, the metrics and the submission files.
// Readers (glue_reader.h, clue_reader.h) interpret these specs; nothing else hard-codes a task.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace electra::finetune {

enum class Benchmark { kGlue, kClue };

// A TSV column: by header name, or by 0-based position in files without a header (CoLA).
struct Column {
  std::string name;
  int index = -1;
  bool empty() const { return name.empty() && index < 0; }
};

// How a CLUE row becomes text_a / text_b.
enum class ClueLayout {
  kFields,      // text_a / text_b are plain string fields
  kKeywords,    // CSL: text_a = the "keyword" list joined by spaces, text_b = "abst"
  kWscMarkers,  // CLUEWSC2020: "text" with span1 wrapped in _..._ and span2 in [...]
};

// One file of a task: a split name, its file under the task folder, and (test splits) the
// submission file its predictions go to.
struct SplitFile {
  std::string split;       // "dev", "dev_matched", "test_mismatched", ...
  std::string file;        // "dev.tsv"
  std::string submission;  // "MNLI-mm.tsv" (test splits only)
};

struct TaskSpec {
  std::string name;     // registry key, lower case: "cola", "sst-2", "cluewsc2020"
  std::string display;  // "CoLA"
  Benchmark benchmark = Benchmark::kGlue;
  std::string folder;  // the task's folder under data.dir: "CoLA", "afqmc"
  bool regression = false;
  std::vector<std::string> labels;   // built-in label list (class index = position)
  bool labels_json = false;          // CLUE: labels.json, when present, defines the list
  std::string drop_label;            // rows with this label are skipped ("-" in OCNLI/CMNLI)
  std::vector<std::string> metrics;  // reported metrics, in order
  std::string primary;               // the metric that selects the best checkpoint
  std::string positive_label;        // F1's positive class (MRPC/QQP: "1")

  SplitFile train;
  std::vector<SplitFile> dev;   // MNLI: dev_matched, dev_mismatched (the first one selects)
  std::vector<SplitFile> test;  // optional at run time; predictions go to `submission`

  // GLUE TSV layout. Labelled splits (train/dev) and the test split differ.
  bool header = true;            // train/dev files have a header line
  Column text_a, text_b, label;  // train/dev
  Column test_index, test_a, test_b;
  bool skip_malformed = false;  // QQP: rows with too few columns are skipped with a warning

  // CLUE JSON layout.
  ClueLayout layout = ClueLayout::kFields;
  std::string field_a, field_b, field_label = "label";

  bool is_pair() const {
    return benchmark == Benchmark::kGlue ? !text_b.empty()
                                         : (layout == ClueLayout::kKeywords || !field_b.empty());
  }
  int64_t num_labels() const { return regression ? 1 : static_cast<int64_t>(labels.size()); }
};

// Every task, GLUE first.
const std::vector<TaskSpec>& all_tasks();
std::vector<std::string> task_names();
// Case-insensitive, with common aliases ("sst2", "stsb", "wsc"). UserError naming `what`
// (e.g. "task.name (configs/x.yaml:3)") and the closest task name when unknown.
const TaskSpec& find_task(const std::string& name, const std::string& what);

// The task's folder: <data_dir>/<folder>, or data_dir itself when it already holds the task's
// files. UserError when neither exists.
std::string task_dir(const std::string& data_dir, const TaskSpec& task, const std::string& what);

}  // namespace electra::finetune
