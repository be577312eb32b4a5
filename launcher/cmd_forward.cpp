// electra forward: one eval-mode fp32 forward of an HF model directory, written as JSON in the
// layout of the reference script's `forward` (ref_electra.py), so that its `compare` can diff
// the two outputs.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <iostream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "launcher/command.h"
#include "launcher/model_io.h"

namespace electra::launcher {
namespace {

// ordered_json keeps the reference script's key order.
using json = nlohmann::ordered_json;

// Nested arrays of doubles; fp32 values convert to double exactly, and the JSON writer prints
// the shortest text that reads back to the same double.
json tensor_json(const at::Tensor& t) {
  at::Tensor d = t.detach().to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  std::function<json(int64_t, int64_t)> rec = [&](int64_t dim, int64_t offset) {
    json a = json::array();
    const int64_t n = d.size(dim), stride = d.stride(dim);
    for (int64_t i = 0; i < n; ++i) {
      if (dim + 1 == d.dim())
        a.push_back(p[offset + i * stride]);
      else
        a.push_back(rec(dim + 1, offset + i * stride));
    }
    return a;
  };
  return d.dim() == 0 ? json(p[0]) : rec(0, 0);
}

json ints_json(const at::Tensor& t) {
  if (!t.defined()) return nullptr;
  json rows = json::array();
  auto a = t.accessor<int64_t, 2>();
  for (int64_t r = 0; r < t.size(0); ++r) {
    json row = json::array();
    for (int64_t c = 0; c < t.size(1); ++c)
      row.push_back(a[r][c]);
    rows.push_back(row);
  }
  return rows;
}

void check_range(const at::Tensor& t, int64_t lo, int64_t hi, const char* flag, const char* why) {
  const int64_t mn = t.min().item<int64_t>(), mx = t.max().item<int64_t>();
  ELECTRA_CHECK_USER(mn >= lo && mx < hi, flag, " values must be in [0, ", hi, ") (", why,
                     "), got ", mn < lo ? mn : mx);
}

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra forward options");
  desc.add_options()("model", po::value<std::string>()->required(), "HF model directory")(
      "input-ids", po::value<std::string>()->required(),
      "token ids: space-separated, rows separated by ';' (\"101 5 6 102; 101 7 102 0\")")(
      "token-type-ids", po::value<std::string>(), "segment ids, same layout (default: zeros)")(
      "attention-mask", po::value<std::string>(), "1 = token, 0 = padding (default: all ones)")(
      "weights", po::value<std::string>()->default_value("auto"),
      "auto (safetensors when present) | safetensors | bin")(
      "all-hidden-states", po::bool_switch(), "also write hidden_states (embeddings + each layer)")(
      "out", po::value<std::string>()->required(), "output JSON file");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra forward --model DIR --input-ids \"101 5 6 102; 101 7 102 0\" "
                  "--out OUT.json\n\n"
                  "Runs the model (eval mode, fp32) and writes logits and last_hidden_state as\n"
                  "JSON, in the layout of the reference script ref_electra.py `forward`."))
    return 0;
  const std::string dir = vm["model"].as<std::string>();
  const auto format = model::parse_weights_format(vm["weights"].as<std::string>(), "--weights");
  model::TaskModel m = load_model_for_inference(dir, format, nullptr, "forward");

  const at::Tensor ids = parse_id_rows(vm["input-ids"].as<std::string>(), "--input-ids");
  at::Tensor types, mask;
  if (vm.count("token-type-ids"))
    types = parse_id_rows(vm["token-type-ids"].as<std::string>(), "--token-type-ids");
  if (vm.count("attention-mask"))
    mask = parse_id_rows(vm["attention-mask"].as<std::string>(), "--attention-mask");
  for (auto [flag, t] : {std::pair<const char*, at::Tensor>{"--token-type-ids", types},
                         {"--attention-mask", mask}}) {
    ELECTRA_CHECK_USER(!t.defined() || t.sizes() == ids.sizes(), flag, " has shape ", t.sizes(),
                       " but --input-ids has ", ids.sizes());
  }
  check_range(ids, 0, m.config.vocab_size, "--input-ids", "vocab_size");
  if (types.defined())
    check_range(types, 0, m.config.type_vocab_size, "--token-type-ids", "type_vocab_size");
  if (mask.defined()) check_range(mask, 0, 2, "--attention-mask", "0 or 1");
  ELECTRA_CHECK_USER(ids.size(1) <= m.config.max_position_embeddings, "--input-ids rows have ",
                     ids.size(1), " tokens but the model takes at most ",
                     m.config.max_position_embeddings, " (max_position_embeddings)");

  const bool all = vm["all-hidden-states"].as<bool>();
  torch::NoGradGuard no_grad;
  const model::TaskOutput o = m.forward(ids, mask, types, all);
  json out = {{"architecture", model::architecture_name(m.architecture)},
              {"weights_file", fs::basename(m.weights_file)},
              {"notes", m.notes},
              {"input_ids", ints_json(ids)},
              {"token_type_ids", ints_json(types)},
              {"attention_mask", ints_json(mask)},
              {"logits_shape", o.logits.sizes().vec()},
              {"logits", tensor_json(o.logits)},
              {"last_hidden_state_shape", o.last_hidden_state.sizes().vec()},
              {"last_hidden_state", tensor_json(o.last_hidden_state)}};
  if (all) {
    json hs = json::array();
    for (const auto& h : o.hidden_states)
      hs.push_back(tensor_json(h));
    out["hidden_states"] = hs;
  }
  const std::string path = vm["out"].as<std::string>();
  fs::write_file_atomic(path, out.dump());
  json summary = {{"out", path},
                  {"architecture", model::architecture_name(m.architecture)},
                  {"weights_file", fs::basename(m.weights_file)},
                  {"logits_shape", o.logits.sizes().vec()},
                  {"notes", m.notes}};
  std::cout << summary.dump() << "\n";
  return 0;
}

Registrar reg({"forward", "run an HF model directory on token ids; logits as JSON", run});

}  // namespace
}  // namespace electra::launcher
