#include <iostream>

#include "common/error.h"
#include "finetune/finetune_config.h"
#include "launcher/command.h"
#include "pretrain/pretrain_config.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra config show options");
  add_config_options(desc);
  desc.add_options()("docs", po::bool_switch(), "add each key's description as a comment")(
      "for", po::value<std::string>()->default_value("pretrain"),
      "which experiment's keys: pretrain or finetune");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra config show [--for pretrain|finetune] [--config FILE.yaml] "
                  "[--set key=value ...] [--docs]\n\n"
                  "Prints the resolved experiment (defaults < file < --set) as YAML; without\n"
                  "--config it lists every key with its default."))
    return 0;
  const std::string what = vm["for"].as<std::string>();
  ELECTRA_CHECK_USER(what == "pretrain" || what == "finetune",
                     "--for must be pretrain or finetune, got '", what, "'");
  const Config cfg = load_config(
      vm, what == "finetune" ? finetune::finetune_schema() : pretrain::pretrain_schema());
  std::cout << cfg.to_yaml(vm["docs"].as<bool>());
  return 0;
}

Registrar reg({"config show", "print the resolved config (defaults < file < --set)", run});

}  // namespace
}  // namespace electra::launcher
