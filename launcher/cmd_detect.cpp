// electra detect: the discriminator's probability that each token of a sentence was replaced.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <cstdio>
#include <iostream>

#include "launcher/command.h"
#include "launcher/model_io.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra detect options");
  add_sentence_options(desc, "HF ElectraForPreTraining directory (a discriminator)",
                       "the sentence to check");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra detect --model DISC_DIR --text \"the chef ate the meal .\"\n\n"
                  "Prints each token with the discriminator's probability that it was replaced\n"
                  "(sigmoid of its logit), one token per line, tab-separated."))
    return 0;
  SentenceInput in = read_sentence_input(vm, model::Architecture::kPreTraining, "detect");
  const std::vector<int64_t>& ids = in.ids;

  torch::NoGradGuard no_grad;
  const at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);  // [1, seq]
  const at::Tensor prob =
      at::sigmoid(in.model.discriminator(input, at::Tensor(), at::Tensor())[0]);  // [seq]
  auto p = prob.accessor<float, 1>();
  for (size_t i = 1; i + 1 < ids.size(); ++i) {  // the sentence's tokens, not [CLS]/[SEP]
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", p[static_cast<int64_t>(i)]);
    std::cout << in.tokenizer->id_to_token(static_cast<int32_t>(ids[i])) << "\t" << buf << "\n";
  }
  return 0;
}

Registrar reg({"detect", "per-token replaced probability from a discriminator", run});

}  // namespace
}  // namespace electra::launcher
