#include <iostream>

#include "common/log.h"
#include "common/signals.h"
#include "launcher/command.h"
#include "launcher/runtime.h"
#include "pretrain/pretrain_config.h"
#include "pretrain/trainer.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra pretrain options");
  add_config_options(desc);
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra pretrain --config configs/pretrain/electra-small.yaml "
                  "[--set key.path=value ...]\n\n"
                  "Pre-trains an ELECTRA generator + discriminator (replaced-token detection).\n"
                  "Re-running the same command resumes from the newest complete checkpoint in\n"
                  "output.dir. SIGTERM/SIGUSR1/Ctrl-C save a checkpoint and exit with 128+signal."))
    return 0;
  const Config cfg = load_config(vm, pretrain::pretrain_schema());
  signals::install_handlers();
  const auto r = pretrain::run_pretraining(cfg, communicator());
  if (r.signal) return 128 + r.signal;
  log::info("done: step ", r.step, ", last checkpoint ", r.last_checkpoint);
  return 0;
}

Registrar reg({"pretrain", "pre-train an ELECTRA model (generator + discriminator)", run});

}  // namespace
}  // namespace electra::launcher
