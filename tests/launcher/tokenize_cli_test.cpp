// `electra tokenize` end to end, on the WordPiece fixture vocabulary (ids are its line numbers,
// counted from 0: 9 hello, 6 un, 7 ##aff, 8 ##able, 11 !, 1 [UNK]).
#include <gtest/gtest.h>

#include "tests/support/run_command.h"

namespace electra::testing {
namespace {

const std::string kVocab = std::string(ELECTRA_TEST_DATA) + "/wordpiece/uncased_vocab.txt";

TEST(TokenizeCli, PrintsTokensThenIds) {
  const auto r = electra("tokenize", "--tokenizer", kVocab, "--text", "Hello unaffable!");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello un ##aff ##able !\n9 6 7 8 11\n");
}

TEST(TokenizeCli, IdsOnlyAndTokensOnly) {
  auto r = electra("tokenize", "--tokenizer", kVocab, "--text", "hello qqq", "--format", "ids");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "9 1\n");  // no [CLS]/[SEP]
  r = electra("tokenize", "--tokenizer", kVocab, "--text", "hello qqq", "--format", "tokens");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello [UNK]\n");
  // Empty text: two empty lines.
  r = electra("tokenize", "--tokenizer", kVocab, "--text", "");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "\n\n");
}

TEST(TokenizeCli, BadInputsAreOneClearError) {
  auto r = electra("tokenize", "--tokenizer", "/nonexistent/vocab.txt", "--text", "x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/vocab.txt' does not exist"), std::string::npos) << r.output;
  r = electra("tokenize", "--tokenizer", kVocab, "--text", "x", "--format", "json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--format must be tokens, ids or both"), std::string::npos) << r.output;
  r = electra("tokenize", "--tokenizer", kVocab);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("text"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace electra::testing
