// electra detect: the discriminator's probability that each token of a sentence was replaced.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "launcher/command.h"
#include "launcher/model_io.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra detect options");
  desc.add_options()("model", po::value<std::string>()->required(),
                     "HF ElectraForPreTraining directory (a discriminator)")(
      "text", po::value<std::string>()->required(), "the sentence to check")(
      "tokenizer", po::value<std::string>(),
      "spm.model or vocab.txt (default: the one in the model directory)")(
      "weights", po::value<std::string>()->default_value("auto"), "auto | safetensors | bin");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra detect --model DISC_DIR --text \"the chef ate the meal .\"\n\n"
                  "Prints each token with the discriminator's probability that it was replaced\n"
                  "(sigmoid of its logit), one token per line, tab-separated."))
    return 0;
  const std::string dir = vm["model"].as<std::string>();
  const model::Architecture want = model::Architecture::kPreTraining;
  model::TaskModel m = load_model_for_inference(
      dir, model::parse_weights_format(vm["weights"].as<std::string>(), "--weights"), &want,
      "detect");
  const std::string tok_flag = vm.count("tokenizer") ? vm["tokenizer"].as<std::string>() : "";
  auto tok = tokenizer_for_model(tok_flag, dir, m.config.vocab_size);
  const std::vector<int64_t> ids = encode_sentence(*tok, vm["text"].as<std::string>());
  ELECTRA_CHECK_USER(ids.size() > 2, "--text has no tokens");
  ELECTRA_CHECK_USER(static_cast<int64_t>(ids.size()) <= m.config.max_position_embeddings,
                     "--text is ", ids.size(),
                     " tokens with [CLS]/[SEP]; the model takes at "
                     "most ",
                     m.config.max_position_embeddings);

  torch::NoGradGuard no_grad;
  const at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);  // [1, seq]
  const at::Tensor prob =
      at::sigmoid(m.discriminator(input, at::Tensor(), at::Tensor())[0]);  // [seq]
  auto p = prob.accessor<float, 1>();
  for (size_t i = 1; i + 1 < ids.size(); ++i) {  // the sentence's tokens, not [CLS]/[SEP]
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", p[static_cast<int64_t>(i)]);
    std::cout << tok->id_to_token(static_cast<int32_t>(ids[i])) << "\t" << buf << "\n";
  }
  return 0;
}

Registrar reg({"detect", "per-token replaced probability from a discriminator", run});

}  // namespace
}  // namespace electra::launcher
