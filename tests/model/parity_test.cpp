// Parity with HuggingFace's ELECTRA: every checkpoint under tests/fixtures/parity was written by
// the independent PyTorch reference (ref_electra.py, see regenerate.sh there) together with its
// eval-mode forward on fixed inputs (ref.json). Loading either weight file and running our
// forward must reproduce logits, last_hidden_state and every hidden state within 1e-5.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <iostream>
#include <tuple>

#include "common/fs.h"
#include "model/hf_io.h"
#include "tests/support/reference_json.h"

namespace electra::model {
namespace {

using nlohmann::json;
using testing::int_rows;
using testing::max_abs_diff;

constexpr double kTolerance = 1e-5;

const char* const kCases[] = {
    "disc-proj",      "disc-proj-std02",  "disc-noproj-std02",         "gen-tied",
    "gen-tied-std02", "gen-untied-std02", "gen-keeptied-legacy-std02", "gen-noproj-std02",
    "cls-proj-std02",
};

class ParityTest : public ::testing::TestWithParam<std::tuple<const char*, WeightsFormat>> {};

TEST_P(ParityTest, ForwardMatchesReference) {
  const auto [name, format] = GetParam();
  const std::string dir = std::string(ELECTRA_TEST_DATA) + "/parity/" + name;
  const json ref = json::parse(fs::read_file(fs::join(dir, "ref.json"), "reference output"));

  TaskModel m = load_hf_model(dir, format);
  m.module().eval();
  EXPECT_EQ(architecture_name(m.architecture), ref["architecture"].get<std::string>());
  EXPECT_EQ(fs::basename(m.weights_file),
            format == WeightsFormat::kBin ? "pytorch_model.bin" : "model.safetensors");

  torch::NoGradGuard no_grad;
  const TaskOutput out = m.forward(int_rows(ref["input_ids"]), int_rows(ref["attention_mask"]),
                                   int_rows(ref["token_type_ids"]), /*all_hidden_states=*/true);
  const double logits = max_abs_diff(out.logits, ref["logits"]);
  const double last = max_abs_diff(out.last_hidden_state, ref["last_hidden_state"]);
  double hidden = 0;
  ASSERT_EQ(out.hidden_states.size(), ref["hidden_states"].size());
  for (size_t i = 0; i < out.hidden_states.size(); ++i)
    hidden = std::max(hidden, max_abs_diff(out.hidden_states[i], ref["hidden_states"][i]));
  // The measured figures, for the record (ctest -V shows them).
  std::cout << "[parity] " << name << " " << (format == WeightsFormat::kBin ? "bin" : "safetensors")
            << " max|diff| logits " << logits << " last_hidden_state " << last << " hidden_states "
            << hidden << "\n";
  EXPECT_LE(logits, kTolerance);
  EXPECT_LE(last, kTolerance);
  EXPECT_LE(hidden, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ParityTest,
    ::testing::Combine(::testing::ValuesIn(kCases),
                       ::testing::Values(WeightsFormat::kSafetensors, WeightsFormat::kBin)),
    [](const auto& info) {
      std::string n = std::get<0>(info.param);
      for (char& c : n)
        if (c == '-') c = '_';
      return n + (std::get<1>(info.param) == WeightsFormat::kBin ? "_bin" : "_safetensors");
    });

// The comparison itself must be able to fail: a model whose query and key weights are swapped
// (a plausible mapping bug) is far outside the tolerance on an init-std 0.2 checkpoint.
TEST(ParityTest, SwappedQueryKeyIsDetected) {
  const std::string dir = std::string(ELECTRA_TEST_DATA) + "/parity/disc-proj-std02";
  const json ref = json::parse(fs::read_file(fs::join(dir, "ref.json"), "reference output"));
  TaskModel m = load_hf_model(dir);
  m.module().eval();
  torch::NoGradGuard no_grad;
  auto& attn = m.encoder()->encoder->layers[0]->attention->self;
  at::Tensor q = attn->query->weight.clone();
  attn->query->weight.copy_(attn->key->weight);
  attn->key->weight.copy_(q);
  const TaskOutput out = m.forward(int_rows(ref["input_ids"]), int_rows(ref["attention_mask"]),
                                   int_rows(ref["token_type_ids"]));
  EXPECT_GT(max_abs_diff(out.logits, ref["logits"]), 100 * kTolerance);
}

}  // namespace
}  // namespace electra::model
