// Fuzzes the CLUE JSON-lines readers (finetune/clue_reader.cpp): the split reader for every
// CLUE layout (plain fields, CSL keywords, CLUEWSC2020 span markers) and labels.json. The first
// byte picks the task and whether the bytes are a split (labelled or test) or a labels file.
#include "finetune/dataset.h"
#include "finetune/task.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  using namespace electra::finetune;
  const uint8_t sel = electra::fuzz::take_selector(&bytes);
  std::vector<const TaskSpec*> clue;
  for (const auto& t : all_tasks())
    if (t.benchmark == Benchmark::kClue) clue.push_back(&t);
  const TaskSpec& task = *clue[(sel >> 2) % clue.size()];
  const auto& scratch = electra::fuzz::Scratch::get();
  if ((sel & 3) == 3) {
    (void)read_clue_labels(scratch.write("labels.json", bytes));
    return;
  }
  const bool labelled = !(sel & 1) || task.test.empty();
  const SplitFile& file = labelled ? task.train : task.test[0];
  const std::string path = scratch.write(file.file, bytes);
  const SplitData d = read_clue_split(task, path, file, labelled, task.labels);
  for (const auto& e : d.examples)
    if (labelled && !task.regression && (e.label < 0 || e.label >= task.num_labels())) abort();
}
