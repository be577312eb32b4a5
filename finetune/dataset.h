// Task data as read from disk: examples of text (before tokenization), with their file line so
// that every complaint can name it. All files of a run are read and validated up front, before
// any training starts, so a bad test file never surfaces after an hour of training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "finetune/task.h"

namespace electra::finetune {

struct TextExample {
  std::string id;  // test: the file's index/id (what the submission needs); else the row number
  std::string text_a, text_b;
  int64_t label = -1;  // class index into the task's labels; -1 when unlabelled or regression
  float target = 0;    // regression target (STS-B)
  int64_t line = 0;    // 1-based line in the file
};

struct SplitData {
  SplitFile file;
  std::string path;
  bool labelled = false;
  std::vector<TextExample> examples;
  int64_t skipped = 0;  // malformed (QQP) or unlabelled ("-") rows left out
};

struct TaskData {
  std::vector<std::string> labels;  // index -> label name (labels.json when the task has one)
  SplitData train;                  // empty when not requested
  std::vector<SplitData> dev;
  std::vector<SplitData> test;  // only the test files that exist
};

// GLUE TSV (glue_reader.cpp) and CLUE JSON lines (clue_reader.cpp). `labels` is the task's
// label list; a label outside it is a UserError naming file and line.
SplitData read_glue_split(const TaskSpec& task, const std::string& path, const SplitFile& file,
                          bool labelled, const std::vector<std::string>& labels);
SplitData read_clue_split(const TaskSpec& task, const std::string& path, const SplitFile& file,
                          bool labelled, const std::vector<std::string>& labels);
// CLUE labels.json: one {"label": "...", ...} object a line, in class order.
std::vector<std::string> read_clue_labels(const std::string& path);

struct LoadOptions {
  bool train = true;  // read (and require) the train file
  bool test = true;   // read the test files that exist
  // Dev splits to read (empty: all of the task's). "dev" selects all of them too.
  std::string dev_split;
};

// Reads and validates the files of `task` under `data_dir` (see task_dir). `what` names the
// setting that gave data_dir, for messages.
TaskData load_task_data(const TaskSpec& task, const std::string& data_dir,
                        const LoadOptions& options, const std::string& what);

}  // namespace electra::finetune
