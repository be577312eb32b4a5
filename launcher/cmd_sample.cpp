// electra sample: fills the [MASK] slots of a sentence from a generator (ElectraForMaskedLM).
// All slots are predicted from one forward pass, each independently, as in pre-training.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <iostream>
#include <limits>

#include "common/error.h"
#include "launcher/command.h"
#include "launcher/model_io.h"
#include "pretrain/sampling.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra sample options");
  add_sentence_options(desc, "HF ElectraForMaskedLM directory (a generator)",
                       "a sentence with [MASK] slots to fill");
  desc.add_options()("temperature", po::value<double>()->default_value(1.0),
                     "logits are divided by it (> 0; 1 = the model's distribution)")(
      "greedy", po::bool_switch(), "take the most likely token instead of sampling")(
      "top-k", po::value<int64_t>()->default_value(0),
      "sample among the k most likely tokens only (0 = all)")(
      "num-samples", po::value<int64_t>()->default_value(1), "filled sentences to print")(
      "seed", po::value<uint64_t>()->default_value(0), "random seed (same seed, same output)");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra sample --model GEN_DIR --text \"the [MASK] sat on the [MASK] .\""
                  " [--temperature T] [--greedy] [--top-k K] [--num-samples N] [--seed S]\n\n"
                  "Fills every [MASK] from the generator's predictions; prints one filled\n"
                  "sentence per line."))
    return 0;
  pretrain::SamplingOptions so;
  so.temperature = vm["temperature"].as<double>();
  so.greedy = vm["greedy"].as<bool>();
  so.top_k = vm["top-k"].as<int64_t>();
  const int64_t n = vm["num-samples"].as<int64_t>();
  ELECTRA_CHECK_USER(n >= 1, "--num-samples must be at least 1, got ", n);

  SentenceInput in = read_sentence_input(vm, model::Architecture::kMaskedLM, "sample");
  pretrain::check_sampling_options(so, in.model.config.vocab_size, "--temperature", "--top-k");
  const std::vector<int64_t>& ids = in.ids;
  const data::Tokenizer& tok = *in.tokenizer;
  model::ElectraForMaskedLM& generator = in.model.generator;
  std::vector<int64_t> slots;  // positions of [MASK]
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == tok.special().mask) slots.push_back(static_cast<int64_t>(i));
  ELECTRA_CHECK_USER(!slots.empty(), "--text has no [MASK] to fill");

  torch::NoGradGuard no_grad;
  const at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);  // [1, seq]
  const at::Tensor hidden =
      generator->electra(input, at::Tensor(), at::Tensor(), at::kFloat);  // [1, seq, H]
  const at::Tensor at_slots = hidden[0].index_select(0, at::tensor(slots, at::kLong));
  at::Tensor logits = generator->lm_logits(at_slots, at::kFloat);  // [slots, vocab]
  // A filled sentence is text: [PAD], [CLS], [SEP] and [MASK] are never drawn into a slot
  // (a flat, high-temperature distribution would otherwise pick them now and then).
  const data::SpecialIds sp = tok.special();
  for (int32_t id : {sp.pad, sp.cls, sp.sep, sp.mask})
    if (id >= 0 && id < logits.size(1))
      logits.index_fill_(1, at::tensor({static_cast<int64_t>(id)}, at::kLong),
                         -std::numeric_limits<float>::infinity());
  at::Generator rng = at::detail::createCPUGenerator(vm["seed"].as<uint64_t>());
  // Every sample draws all its slots: [n * slots] in sample-major order.
  const at::Tensor drawn =
      pretrain::sample_tokens(logits.repeat({n, 1}), so, rng).view({n, -1});  // [n, slots]
  for (int64_t s = 0; s < n; ++s) {
    std::vector<int32_t> filled;
    size_t k = 0;
    for (size_t i = 1; i + 1 < ids.size(); ++i) {  // without [CLS] and [SEP]
      const bool slot = k < slots.size() && slots[k] == static_cast<int64_t>(i);
      filled.push_back(static_cast<int32_t>(slot ? drawn[s][k++].item<int64_t>() : ids[i]));
    }
    std::cout << tok.decode(filled) << "\n";
  }
  return 0;
}

Registrar reg({"sample", "fill [MASK] slots of a sentence from a generator", run});

}  // namespace
}  // namespace electra::launcher
