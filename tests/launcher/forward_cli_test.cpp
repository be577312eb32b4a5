// `electra forward` end to end: JSON in the reference script's layout, matching its values.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "tests/support/reference_json.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace electra {
namespace {

using json = nlohmann::ordered_json;
using testing::CommandResult;
using testing::TempDir;

std::string fixture(const std::string& rel) {
  return std::string(ELECTRA_TEST_DATA) + "/" + rel;
}

// The reference's inputs as the CLI's text form: "a b c; d e f".
std::string rows_text(const json& rows) {
  std::string s;
  for (const auto& r : rows) {
    if (!s.empty()) s += "; ";
    for (size_t i = 0; i < r.size(); ++i)
      s += (i ? " " : "") + std::to_string(r[i].get<int>());
  }
  return s;
}

using testing::electra;

TEST(ForwardCliTest, WritesTheReferenceLayoutAndValues) {
  TempDir tmp;
  for (const char* weights : {"safetensors", "bin"}) {
    SCOPED_TRACE(weights);
    const std::string dir = fixture("parity/disc-proj-std02");
    const json ref = json::parse(fs::read_file(fs::join(dir, "ref.json"), "reference"));
    const CommandResult r = electra(
        "forward", "--model", dir, "--weights", weights, "--input-ids", rows_text(ref["input_ids"]),
        "--token-type-ids", rows_text(ref["token_type_ids"]), "--attention-mask",
        rows_text(ref["attention_mask"]), "--all-hidden-states", "--out", tmp.file("out.json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json out = json::parse(fs::read_file(tmp.file("out.json"), "output"));
    // Same keys in the same order as ref_electra.py forward.
    std::vector<std::string> keys_out, keys_ref;
    for (auto it = out.begin(); it != out.end(); ++it)
      keys_out.push_back(it.key());
    for (auto it = ref.begin(); it != ref.end(); ++it)
      keys_ref.push_back(it.key());
    EXPECT_EQ(keys_out, keys_ref);
    EXPECT_EQ(out["architecture"], "ElectraForPreTraining");
    EXPECT_EQ(out["weights_file"],
              std::string(weights) == "bin" ? "pytorch_model.bin" : "model.safetensors");
    EXPECT_EQ(out["logits_shape"], ref["logits_shape"]);
    EXPECT_EQ(out["input_ids"], ref["input_ids"]);
    EXPECT_EQ(out["attention_mask"], ref["attention_mask"]);
    for (const char* k : {"logits", "last_hidden_state"}) {
      std::vector<double> v;
      std::vector<int64_t> shape;
      testing::flatten_json(out[k], &v, &shape);
      const at::Tensor t = at::tensor(v, at::kDouble).view(shape);
      EXPECT_LE(testing::max_abs_diff(t, ref[k]), 1e-5) << k;
    }
    ASSERT_EQ(out["hidden_states"].size(), ref["hidden_states"].size());
  }
}

TEST(ForwardCliTest, DefaultsAreZeroTypesAndNoMask) {
  TempDir tmp;
  const std::string model = fixture("parity/gen-keeptied-legacy-std02");
  ASSERT_EQ(
      electra("forward", "--model", model, "--input-ids", "2 5 6 3", "--out", tmp.file("a.json"))
          .exit_code,
      0);
  const CommandResult r =
      electra("forward", "--model", model, "--input-ids", "2 5 6 3", "--token-type-ids", "0 0 0 0",
              "--attention-mask", "1 1 1 1", "--weights", "bin", "--out", tmp.file("b.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json a = json::parse(fs::read_file(tmp.file("a.json"), "a"));
  const json b = json::parse(fs::read_file(tmp.file("b.json"), "b"));
  EXPECT_TRUE(a["token_type_ids"].is_null());
  EXPECT_TRUE(a["attention_mask"].is_null());
  EXPECT_EQ(a["logits_shape"], json::parse("[1, 4, 100]"));
  EXPECT_EQ(b["notes"][0], "ignored legacy buffer electra.embeddings.position_ids");
  std::vector<double> va, vb;
  std::vector<int64_t> sa, sb;
  testing::flatten_json(a["logits"], &va, &sa);
  testing::flatten_json(b["logits"], &vb, &sb);
  ASSERT_EQ(va.size(), vb.size());
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::abs(va[i] - vb[i]));
  EXPECT_LE(worst, 1e-6);
  EXPECT_NE(r.output.find("\"architecture\":\"ElectraForMaskedLM\""), std::string::npos)
      << r.output;
}

TEST(ForwardCliTest, BadInputIsAClearError) {
  TempDir tmp;
  const std::string model = fixture("parity/disc-proj"), out = tmp.file("x.json");
  auto forward = [&](const std::string& ids, const std::string& flag = "",
                     const std::string& value = "") {
    return flag.empty() ? electra("forward", "--model", model, "--out", out, "--input-ids", ids)
                        : electra("forward", "--model", model, "--out", out, "--input-ids", ids,
                                  flag, value);
  };
  CommandResult r = forward("2 5 6; 2 5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("row 2 has 2 values but row 1 has 3"), std::string::npos) << r.output;
  r = forward("2 500 6");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("vocab_size"), std::string::npos) << r.output;
  r = forward("2 5 6", "--attention-mask", "1 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--attention-mask has shape"), std::string::npos) << r.output;
  r = forward("2 5 6", "--weights", "pt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--weights must be auto, safetensors or bin"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace electra
