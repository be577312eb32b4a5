// `electra convert --tf-checkpoint`: lists, prints and converts Google's TensorFlow checkpoints
// (tensor bundles) natively, without TensorFlow.
#include <ATen/ATen.h>

#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/tokenizer.h"
#include "launcher/command.h"
#include "model/electra_config.h"
#include "model/tf_checkpoint.h"
#include "model/tf_electra.h"

namespace electra::launcher {
namespace {

void print_list(const model::TfCheckpoint& ckpt) {
  size_t width = 0;
  for (const auto& v : ckpt.variables())
    width = std::max(width, v.name.size());
  for (const auto& v : ckpt.variables())
    std::cout << model::describe_variable(v, width) << "\n";
}

// C-style quoting, so that binary strings (serialized protos) print on one line.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

// One line per row of the last dimension (a scalar or a vector is one line). Floats print with
// enough digits to read back the same float32 (%.9g) or float64 (%.17g).
void print_values(const model::TfCheckpoint& ckpt, const model::TfVariable& v) {
  std::cout << model::describe_variable(v) << "\n";
  const int64_t row = v.shape.empty() || v.shape.back() == 0 ? 1 : v.shape.back();
  auto end_of = [&](int64_t i, int64_t n) { return (i + 1) % row == 0 || i + 1 == n; };
  if (v.dtype == model::kTfString) {
    const auto strings = ckpt.read_strings(v.name);
    const int64_t n = static_cast<int64_t>(strings.size());
    for (int64_t i = 0; i < n; ++i)
      std::cout << quote(strings[i]) << (end_of(i, n) ? "\n" : " ");
    return;
  }
  const at::Tensor t = ckpt.read(v.name).reshape({-1});
  const int64_t n = t.numel();
  char buf[64];
  if (t.is_floating_point()) {
    const bool dbl = t.scalar_type() == at::kDouble;
    const at::Tensor d = t.to(at::kDouble);
    const double* p = d.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, dbl ? "%.17g" : "%.9g", p[i]);
      std::cout << buf << (end_of(i, n) ? "\n" : " ");
    }
  } else {
    const bool is_bool = t.scalar_type() == at::kBool;
    const at::Tensor l = t.to(at::kLong);
    const int64_t* p = l.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (is_bool)
        std::cout << (p[i] ? "true" : "false");
      else
        std::cout << p[i];
      std::cout << (end_of(i, n) ? "\n" : " ");
    }
  }
}

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra convert options");
  desc.add_options()("tf-checkpoint", po::value<std::string>()->required(),
                     "TensorFlow checkpoint prefix (model.ckpt-N for model.ckpt-N.index and "
                     ".data-*), its .index, or a directory holding one")(
      "list", po::bool_switch(), "print each variable: name, dtype, shape (needs only .index)")(
      "show", po::value<std::string>(), "print one variable's values")(
      "config", po::value<std::string>(), "HF config.json of the model to produce")(
      "part", po::value<std::string>()->default_value("discriminator"),
      "discriminator (ElectraForPreTraining) or generator (ElectraForMaskedLM)")(
      "out", po::value<std::string>(), "the HF model directory to write")(
      "vocab", po::value<std::string>(),
      "optional: the checkpoint's vocab.txt (or .model), copied into HF_DIR with its "
      "tokenizer_config.json");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra convert --tf-checkpoint PREFIX --list\n"
                  "       electra convert --tf-checkpoint PREFIX --show NAME\n"
                  "       electra convert --tf-checkpoint PREFIX --config CONFIG.json\n"
                  "                       [--part discriminator|generator] [--vocab VOCAB]\n"
                  "                       --out HF_DIR\n\n"
                  "Reads Google's ELECTRA TensorFlow checkpoints natively (no TensorFlow).\n"
                  "--list prints one line per variable (name, dtype, shape); --show prints a\n"
                  "variable's values, one line per row of its last dimension. The conversion\n"
                  "writes config.json + model.safetensors with HuggingFace names, loadable by\n"
                  "transformers' ElectraForPreTraining / ElectraForMaskedLM; CONFIG.json must\n"
                  "describe that part (for the generator: its own hidden size)."))
    return 0;
  const model::TfCheckpoint ckpt(vm["tf-checkpoint"].as<std::string>());
  const bool list = vm["list"].as<bool>();
  const bool show = vm.count("show") > 0;
  const bool convert = vm.count("out") > 0 || vm.count("config") > 0 || vm.count("vocab") > 0;
  ELECTRA_CHECK_USER(int(list) + int(show) + int(convert) == 1,
                     "give exactly one of --list, --show NAME, or --config CONFIG.json --out "
                     "HF_DIR (see --help)");
  if (list) {
    print_list(ckpt);
  } else if (show) {
    print_values(ckpt, ckpt.get(vm["show"].as<std::string>()));
  } else {
    ELECTRA_CHECK_USER(vm.count("config") && vm.count("out"),
                       "converting needs both --config CONFIG.json and --out HF_DIR");
    const auto part = model::parse_electra_part(vm["part"].as<std::string>(), "--part");
    std::unique_ptr<data::Tokenizer> tok;
    if (vm.count("vocab")) {
      tok = data::load_tokenizer(vm["vocab"].as<std::string>(), "--vocab");
      const auto cfg = model::load_config_json(vm["config"].as<std::string>());
      ELECTRA_CHECK_USER(tok->vocab_size() == cfg.vocab_size, "--vocab has ", tok->vocab_size(),
                         " tokens but --config says vocab_size ", cfg.vocab_size,
                         ": give the vocabulary the checkpoint was trained with");
    }
    // The directory appears only once complete (as `electra export` writes it).
    const std::string out = vm["out"].as<std::string>();
    fs::StagedDir staged(out);
    model::convert_tf_electra(ckpt.prefix(), vm["config"].as<std::string>(), part, staged.path());
    if (tok) {
      fs::copy_file(tok->files().at(0), staged.file(tok->canonical_name()));
      const std::string cfg = tok->hf_tokenizer_config();
      if (!cfg.empty()) fs::write_file(staged.file("tokenizer_config.json"), cfg);
    }
    staged.commit();
    log::info("wrote ", out);
  }
  return 0;
}

Registrar reg({"convert", "list, print or convert a TensorFlow (Google ELECTRA) checkpoint", run});

}  // namespace
}  // namespace electra::launcher
