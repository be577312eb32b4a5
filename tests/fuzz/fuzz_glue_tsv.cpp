// Fuzzes the GLUE TSV reader (finetune/glue_reader.cpp). The first byte picks the task (all
// nine GLUE layouts: header or not, index columns, regression, QQP's malformed rows) and the
// split kind (labelled train/dev, or test).
#include "finetune/dataset.h"
#include "finetune/task.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  using namespace electra::finetune;
  const uint8_t sel = electra::fuzz::take_selector(&bytes);
  std::vector<const TaskSpec*> glue;
  for (const auto& t : all_tasks())
    if (t.benchmark == Benchmark::kGlue) glue.push_back(&t);
  const TaskSpec& task = *glue[(sel >> 1) % glue.size()];
  const bool labelled = !(sel & 1) || task.test.empty();
  const SplitFile& file = labelled ? task.train : task.test[0];
  const std::string path = electra::fuzz::Scratch::get().write(file.file, bytes);
  const SplitData d = read_glue_split(task, path, file, labelled, task.labels);
  for (const auto& e : d.examples)
    if (labelled && !task.regression && (e.label < 0 || e.label >= task.num_labels())) abort();
}
