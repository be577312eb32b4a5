#include <iostream>

#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/strings.h"
#include "finetune/finetune_config.h"
#include "finetune/sweep.h"
#include "finetune/trainer.h"
#include "launcher/command.h"
#include "launcher/runtime.h"

namespace electra::launcher {
namespace {

// A YAML double-quoted scalar, for paths handed to Config::set.
std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra finetune options");
  add_config_options(desc);
  desc.add_options()("seeds", po::value<std::string>(),
                     "run one fine-tune per seed (e.g. 1,2,3 or 1-5) into output.dir/seed-N/ "
                     "and report the median and min/max of each dev metric");
  po::variables_map vm;
  if (!parse_args(
          args, desc, &vm,
          "usage: electra finetune --config configs/finetune/glue/cola.yaml "
          "[--set key.path=value ...] [--seeds 1,2,3]\n\n"
          "Fine-tunes a pre-trained ELECTRA discriminator on a GLUE or CLUE task, keeps the\n"
          "best dev checkpoint (output.dir/best_model, an HF ElectraForSequenceClassification),\n"
          "prints one JSON line of dev metrics per dev split and writes test predictions\n"
          "in the benchmark's submission format (output.dir/submission/)."))
    return 0;
  const Config cfg = load_config(vm, finetune::finetune_schema());
  // Validate the whole config (task name, ranges) before anything runs.
  const finetune::FinetuneConfig fc = finetune::read_finetune_config(cfg);
  signals::install_handlers();
  dist::Communicator& comm = communicator();

  if (!vm.count("seeds")) {
    const auto r = finetune::run_finetune(cfg, comm);
    if (r.signal) return 128 + r.signal;
    if (comm.rank() == 0)
      for (const auto& line : r.json_lines)
        std::cout << line << std::endl;
    return 0;
  }
  const auto seeds = finetune::parse_seeds(vm["seeds"].as<std::string>(), "--seeds");
  const std::string base = fc.output_dir;
  // An earlier sweep's summary goes now: it must not outlive a sweep that stops early.
  if (comm.rank() == 0) fs::remove_all(fs::join(base, "sweep_summary.jsonl"));
  std::vector<finetune::SeedRun> runs;
  for (int64_t seed : seeds) {
    Config c = cfg;
    c.set("train.seed", std::to_string(seed), "--seeds");
    c.set("output.dir", yaml_quote(fs::join(base, cat("seed-", seed))), "--seeds");
    log::info("--- seed ", seed, " (", runs.size() + 1, " of ", seeds.size(), ") ---");
    const auto r = finetune::run_finetune(c, comm);
    if (r.signal) return 128 + r.signal;
    runs.push_back({seed, r.dev});
  }
  const auto lines = finetune::sweep_summary(fc.task->name, runs);
  if (comm.rank() == 0) {
    fs::write_file_atomic(fs::join(base, "sweep_summary.jsonl"), join(lines, "\n") + "\n");
    for (const auto& line : lines)
      std::cout << line << std::endl;
  }
  return 0;
}

Registrar reg({"finetune",
               "fine-tune on a GLUE/CLUE task (dev metrics, best model, test predictions)", run});

}  // namespace
}  // namespace electra::launcher
