#include "finetune/dataset.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace electra::finetune {
namespace {

SplitData read_split(const TaskSpec& task, const std::string& dir, const SplitFile& file,
                     bool labelled, const std::vector<std::string>& labels) {
  const std::string path = fs::join(dir, file.file);
  ELECTRA_CHECK_USER(fs::exists(path), "task ", task.name, ": the ", file.split, " file '", path,
                     "' does not exist");
  return task.benchmark == Benchmark::kGlue ? read_glue_split(task, path, file, labelled, labels)
                                            : read_clue_split(task, path, file, labelled, labels);
}

}  // namespace

TaskData load_task_data(const TaskSpec& task, const std::string& data_dir,
                        const LoadOptions& options, const std::string& what) {
  const std::string dir = task_dir(data_dir, task, what);
  TaskData d;
  d.labels = task.labels;
  if (task.labels_json && fs::exists(fs::join(dir, "labels.json")))
    d.labels = read_clue_labels(fs::join(dir, "labels.json"));

  if (options.train) d.train = read_split(task, dir, task.train, true, d.labels);
  std::vector<std::string> dev_names;
  for (const auto& s : task.dev)
    dev_names.push_back(s.split);
  const bool all_dev = options.dev_split.empty() || options.dev_split == "dev";
  bool found = all_dev;
  for (const auto& s : task.dev) {
    if (!all_dev && s.split != options.dev_split) continue;
    found = true;
    d.dev.push_back(read_split(task, dir, s, true, d.labels));
  }
  ELECTRA_CHECK_USER(found, "task ", task.name, " has no dev split '", options.dev_split,
                     "' (its dev splits: dev, ", join(dev_names, ", "), ")");
  if (options.test) {
    for (const auto& s : task.test) {
      if (!fs::exists(fs::join(dir, s.file))) {
        log::info("task ", task.name, ": no ", s.file, " in ", dir,
                  "; no test predictions will be written for it");
        continue;
      }
      d.test.push_back(read_split(task, dir, s, false, d.labels));
    }
  }
  return d;
}

}  // namespace electra::finetune
