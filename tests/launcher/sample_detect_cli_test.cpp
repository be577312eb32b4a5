// `electra sample` and `electra detect` end to end on a tiny SentencePiece generator and
// discriminator (tests/fixtures/text_models, written by the reference; see
// tests/fixtures/parity/regenerate.sh). Expected outputs are recomputed here from the library.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <sstream>

#include "common/fs.h"
#include "common/strings.h"
#include "data/tokenizer.h"
#include "model/hf_io.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace electra {
namespace {

using testing::CommandResult;
using testing::shell_quote;
using testing::TempDir;

const std::string kGen = std::string(ELECTRA_TEST_DATA) + "/text_models/generator";
const std::string kDisc = std::string(ELECTRA_TEST_DATA) + "/text_models/discriminator";
const std::string kText = "the [MASK] sat on the [MASK] .";

// `electra <args>` with stdout only in `output` (stderr goes to a file, so log lines never mix
// with the printed results), and the exit code.
template <class... Args>
CommandResult electra_stdout(const TempDir& tmp, const Args&... args) {
  std::string cmd = shell_quote(ELECTRA_BINARY);
  ((cmd += " " + shell_quote(args)), ...);
  return testing::run_command("{ " + cmd + " 2>" + shell_quote(tmp.file("stderr")) + "; }");
}
using testing::electra;

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

// [CLS] pieces... [SEP] with a mask id between pieces: a masked word is one [MASK] token, as
// in pre-training (encoding "the [MASK]" whole would leave a lone "▁" piece before the mask).
std::vector<int64_t> encode(const data::Tokenizer& tok, const std::vector<std::string>& pieces) {
  std::vector<int64_t> ids = {tok.special().cls};
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i) ids.push_back(tok.special().mask);
    for (int32_t id : tok.encode(pieces[i]))
      ids.push_back(id);
  }
  ids.push_back(tok.special().sep);
  return ids;
}

TEST(SampleCliTest, GreedyFillsEachMaskWithTheArgmax) {
  auto tok = data::load_tokenizer(kGen, "test");
  const std::vector<int64_t> ids = encode(*tok, {"the", "sat on the", "."});
  model::TaskModel m = model::load_hf_model(kGen);
  m.module().eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits =
      m.forward(at::tensor(ids, at::kLong).unsqueeze(0), {}, {}).logits[0];  // [seq, vocab]
  std::vector<int32_t> filled;
  int masks = 0;
  for (size_t i = 1; i + 1 < ids.size(); ++i) {
    const bool mask = ids[i] == tok->special().mask;
    masks += mask;
    filled.push_back(static_cast<int32_t>(mask ? logits[i].argmax().item<int64_t>() : ids[i]));
  }
  ASSERT_EQ(masks, 2);
  TempDir tmp;
  const CommandResult r = electra_stdout(tmp, "sample", "--model", kGen, "--text", kText,
                                         "--greedy", "--num-samples", "2");
  ASSERT_EQ(r.exit_code, 0) << fs::read_file(tmp.file("stderr"), "stderr");
  const auto out = lines(r.output);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], tok->decode(filled));
  EXPECT_EQ(out[1], out[0]);
  // top-k 1 is greedy whatever the temperature and seed.
  const CommandResult k1 = electra_stdout(tmp, "sample", "--model", kGen, "--text", kText,
                                          "--top-k", "1", "--temperature", "3", "--seed", "9");
  EXPECT_EQ(lines(k1.output), std::vector<std::string>{out[0]});
}

TEST(SampleCliTest, SameSeedSameSamples) {
  TempDir tmp;
  auto sample = [&](const char* seed) {
    return electra_stdout(tmp, "sample", "--model", kGen, "--text", kText, "--temperature", "5",
                          "--num-samples", "6", "--seed", seed);
  };
  const CommandResult a = sample("5"), b = sample("5"), c = sample("6");
  ASSERT_EQ(a.exit_code, 0) << fs::read_file(tmp.file("stderr"), "stderr");
  EXPECT_EQ(lines(a.output).size(), 6u);
  EXPECT_EQ(a.output, b.output);
  EXPECT_NE(a.output, c.output);
  for (const auto& l : lines(a.output)) {
    EXPECT_EQ(l.find("[MASK]"), std::string::npos) << l;
    EXPECT_EQ(l.rfind("the", 0), 0u) << l;  // unmasked tokens stay
  }
}

TEST(SampleCliTest, BadArgumentsAreClearErrors) {
  for (const char* t : {"0", "-1", "nan"}) {
    const CommandResult r = electra("sample", "--model", kGen, "--text", kText, "--temperature", t);
    EXPECT_EQ(r.exit_code, 2) << t;
    EXPECT_NE(r.output.find("--temperature must be a finite number > 0"), std::string::npos)
        << r.output;
  }
  CommandResult r = electra("sample", "--model", kGen, "--text", "the cat sat .");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--text has no [MASK]"), std::string::npos) << r.output;
  r = electra("sample", "--model", kGen, "--text", kText, "--top-k", "1000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--top-k must be in [0, "), std::string::npos) << r.output;
  r = electra("sample", "--model", kDisc, "--text", kText);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("needs an ElectraForMaskedLM"), std::string::npos) << r.output;
}

TEST(DetectCliTest, PrintsEachTokenWithItsReplacedProbability) {
  const std::string text = "the cat ate the bread .";
  auto tok = data::load_tokenizer(kDisc, "test");
  const std::vector<int64_t> ids = encode(*tok, {text});
  model::TaskModel m = model::load_hf_model(kDisc);
  m.module().eval();
  torch::NoGradGuard no_grad;
  const at::Tensor p =
      at::sigmoid(m.forward(at::tensor(ids, at::kLong).unsqueeze(0), {}, {}).logits[0]);

  TempDir tmp;
  const CommandResult r = electra_stdout(tmp, "detect", "--model", kDisc, "--text", text);
  ASSERT_EQ(r.exit_code, 0) << fs::read_file(tmp.file("stderr"), "stderr");
  const auto out = lines(r.output);
  ASSERT_EQ(out.size(), ids.size() - 2);  // no [CLS] / [SEP]
  for (size_t i = 0; i < out.size(); ++i) {
    const auto cols = split(out[i], '\t');
    ASSERT_EQ(cols.size(), 2u) << out[i];
    EXPECT_EQ(cols[0], tok->id_to_token(static_cast<int32_t>(ids[i + 1])));
    EXPECT_NEAR(std::stod(cols[1]), p[i + 1].item<double>(), 5e-5) << out[i];
  }
  const CommandResult wrong = electra("detect", "--model", kGen, "--text", text);
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.output.find("needs an ElectraForPreTraining"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace electra
