#include <iostream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "launcher/command.h"
#include "pretrain/checkpoint.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra export options");
  desc.add_options()("checkpoint", po::value<std::string>()->required(),
                     "a checkpoint directory, or a run's output.dir (its newest checkpoint)")(
      "out", po::value<std::string>()->required(), "the HF model directory to write")(
      "part", po::value<std::string>()->default_value("discriminator"),
      "discriminator (ElectraForPreTraining) or generator (ElectraForMaskedLM)");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra export --checkpoint DIR --out HF_DIR "
                  "[--part discriminator|generator]\n\n"
                  "Writes config.json, model.safetensors and the tokenizer files, loadable by\n"
                  "transformers' from_pretrained as they are."))
    return 0;
  std::string ckpt = vm["checkpoint"].as<std::string>();
  ELECTRA_CHECK_USER(fs::is_dir(ckpt), "--checkpoint '", ckpt, "' is not a directory");
  if (!pretrain::is_complete_checkpoint(ckpt)) {
    // A run directory: take its newest complete checkpoint.
    auto latest = pretrain::latest_checkpoint(fs::join(ckpt, "checkpoints"));
    if (!latest) latest = pretrain::latest_checkpoint(ckpt);
    ELECTRA_CHECK_USER(latest.has_value(), "--checkpoint '", ckpt,
                       "' holds no complete checkpoint (a step-N directory with a COMPLETE "
                       "marker)");
    ckpt = *latest;
  }
  const std::string out = vm["out"].as<std::string>();
  pretrain::export_checkpoint(ckpt, out, vm["part"].as<std::string>());
  log::info("exported the ", vm["part"].as<std::string>(), " of ", ckpt, " to ", out);
  return 0;
}

Registrar reg({"export", "write a checkpoint as a HuggingFace model directory", run});

}  // namespace
}  // namespace electra::launcher
