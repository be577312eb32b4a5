// WordPiece tokenizer against BERT's algorithm, worked out by hand on small fixture vocabularies
// (tests/fixtures/wordpiece/*.txt; ids are 0-based line numbers, listed in each test).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/tokenizer.h"
#include "tests/support/temp_dir.h"
#include "tests/support/user_error.h"

namespace electra::data {
namespace {

using Ids = std::vector<int32_t>;
using Strs = std::vector<std::string>;

std::string fixture(const std::string& name) {
  return std::string(ELECTRA_TEST_DATA) + "/wordpiece/" + name;
}

// uncased_vocab.txt:
//  0 [PAD]  1 [UNK]  2 [CLS]  3 [SEP]  4 [MASK]  5 the  6 un  7 ##aff  8 ##able  9 hello
// 10 world 11 !     12 ,     13 .     14 '      15 s   16 cafe 17 naive 18 a  19 ##b  20 ##c
// 21 $     22 ##s   23 run   24 ##ning 25 -     26 οδος 27 ##ing 28 i  29 x  30 xy  31 ##yz
// 32 ##z   33 r     34 ##unning 35 [unused0] 36 ℝ
class UncasedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = load_wordpiece(fixture("uncased_vocab.txt")).release(); }
  static void TearDownTestSuite() { delete tok_; }
  static Ids enc(const std::string& s) { return tok_->encode(s); }
  static Tokenizer* tok_;
};
Tokenizer* UncasedTest::tok_ = nullptr;

TEST_F(UncasedTest, VocabularyAndSpecialIds) {
  EXPECT_EQ(tok_->kind(), "wordpiece");
  EXPECT_EQ(tok_->canonical_name(), "vocab.txt");
  EXPECT_EQ(tok_->vocab_size(), 37);  // the final newline adds no empty token
  const SpecialIds& s = tok_->special();
  EXPECT_EQ(s.pad, 0);
  EXPECT_EQ(s.unk, 1);
  EXPECT_EQ(s.cls, 2);
  EXPECT_EQ(s.sep, 3);
  EXPECT_EQ(s.mask, 4);
  EXPECT_EQ(tok_->token_to_id("##aff"), 7);
  EXPECT_EQ(tok_->token_to_id("nope"), -1);
  EXPECT_EQ(tok_->id_to_token(26), "οδος");
}

TEST_F(UncasedTest, GreedyLongestMatchFirst) {
  EXPECT_EQ(tok_->tokenize("unaffable"), (Strs{"un", "##aff", "##able"}));
  EXPECT_EQ(enc("unaffable"), (Ids{6, 7, 8}));
  // "run" is the longest prefix, though r + ##unning would also cover the word.
  EXPECT_EQ(enc("running"), (Ids{23, 24}));
  // Greedy, not optimal: xy + ##z, never x + ##yz.
  EXPECT_EQ(enc("xyz"), (Ids{30, 32}));
  EXPECT_EQ(enc("abc"), (Ids{18, 19, 20}));
}

TEST_F(UncasedTest, LowerCasesAndStripsAccents) {
  EXPECT_EQ(enc("Hello, World!"), (Ids{9, 12, 10, 11}));
  EXPECT_EQ(enc("HELLO"), (Ids{9}));
  // café -> cafe; the apostrophe is punctuation: cafe ' s
  EXPECT_EQ(enc("The Café's"), (Ids{5, 16, 14, 15}));
  EXPECT_EQ(enc("NAÏVE"), (Ids{17}));
  // Already decomposed input (e + U+0301) loses its mark the same way.
  EXPECT_EQ(enc("Cafe\xCC\x81"), (Ids{16}));
  // Final sigma: Python's str.lower() maps the last Σ of ΟΔΟΣ to ς (U+03C2), not σ.
  EXPECT_EQ(enc("ΟΔΟΣ"), (Ids{26}));
  // İ lower-cases to i + U+0307; stripping the mark leaves i.
  EXPECT_EQ(enc("İ"), (Ids{28}));
}

TEST_F(UncasedTest, PunctuationSplitsEveryCharacter) {
  // ASCII symbols BERT counts as punctuation although Unicode says Sc/Sm: $ and -
  EXPECT_EQ(enc("$a-a"), (Ids{21, 18, 25, 18}));
  EXPECT_EQ(enc("hello..."), (Ids{9, 13, 13, 13}));
  // Unicode punctuation: ¡ (Po) and « » (Pi/Pf) are split off (and are unknown here).
  EXPECT_EQ(enc("«hello»"), (Ids{1, 9, 1}));
  // '#' is punctuation too, so text never reaches the ## continuation pieces.
  EXPECT_EQ(enc("##s"), (Ids{1, 1, 15}));
}

TEST_F(UncasedTest, UnknownWordsBecomeOneUnk) {
  EXPECT_EQ(enc("qqq"), (Ids{1}));
  // a + ##b match, then nothing matches "q": the whole word is [UNK], not a ##b [UNK].
  EXPECT_EQ(enc("abq the"), (Ids{1, 5}));
  EXPECT_EQ(tok_->tokenize("qqq the"), (Strs{"[UNK]", "the"}));
  // 100 characters is still a word: a + 99 x ##b.
  const std::string w100 = "a" + std::string(99, 'b');
  Ids expect(1, 18);
  expect.insert(expect.end(), 99, 19);
  EXPECT_EQ(enc(w100), expect);
  // 101 characters: [UNK], although every piece exists.
  EXPECT_EQ(enc(w100 + "b"), (Ids{1}));
  // The limit counts characters, not bytes: á + 99 b is 101 bytes but 100 characters.
  EXPECT_EQ(enc("\xC3\xA1" + std::string(99, 'b')), expect);
}

TEST_F(UncasedTest, CleanUp) {
  // NUL and U+FFFD are dropped and the word joins up.
  EXPECT_EQ(enc(std::string("hel\0lo", 6)), (Ids{9}));
  EXPECT_EQ(enc("hel\xEF\xBF\xBDlo"), (Ids{9}));
  // Format characters (Cf): zero-width space, soft hyphen; C0 controls and DEL (Cc).
  EXPECT_EQ(enc(std::string("un\xE2\x80\x8B") + "affable"), (Ids{6, 7, 8}));
  EXPECT_EQ(enc(std::string("un\xC2\xAD") + "affable"), (Ids{6, 7, 8}));
  EXPECT_EQ(enc(std::string("un\x1F") + "affable\x7F"), (Ids{6, 7, 8}));
  // Unassigned (Cn) although inside the CJK compatibility block: dropped, not split off.
  EXPECT_EQ(enc(std::string("un\xEF\xAB\x9A") + "affable"), (Ids{6, 7, 8}));  // U+FADA
  // Invalid UTF-8: a stray byte, a truncated sequence, an overlong '/'.
  EXPECT_EQ(enc("hel\xFFlo"), (Ids{9}));
  EXPECT_EQ(enc("\xC3hello"), (Ids{9}));
  EXPECT_EQ(enc(std::string("\xC0\xAF") + "hello"), (Ids{9}));
  EXPECT_EQ(enc("hello\tworld\r\n"), (Ids{9, 10}));
  EXPECT_EQ(enc("hello\xC2\xA0world"), (Ids{9, 10}));      // no-break space (Zs)
  EXPECT_EQ(enc("hello\xE3\x80\x80world"), (Ids{9, 10}));  // ideographic space (Zs)
  EXPECT_EQ(enc("hello\xE2\x80\xA8world"), (Ids{9, 10}));  // line separator (Zl)
  EXPECT_EQ(enc(""), (Ids{}));
  EXPECT_EQ(enc(" \t\n "), (Ids{}));
}

TEST_F(UncasedTest, SpecialTokensInTextStayWhole) {
  EXPECT_EQ(enc("[CLS] hello [SEP]"), (Ids{2, 9, 3}));
  EXPECT_EQ(enc("hello[MASK]world"), (Ids{9, 4, 10}));
  EXPECT_EQ(enc("[PAD][UNK]"), (Ids{0, 1}));
  // Not lower-cased first, and only the five special names: [mask] and [unused0] are
  // ordinary text, split on their brackets.
  EXPECT_EQ(enc("[mask]"), (Ids{1, 1, 1}));
  EXPECT_EQ(enc("[unused0]"), (Ids{1, 1, 1}));
  EXPECT_EQ(enc("[CLS"), (Ids{1, 1}));
}

TEST_F(UncasedTest, DecodeGluesContinuationPieces) {
  EXPECT_EQ(tok_->decode({2, 9, 6, 7, 8, 11, 3, 0, 0}), "[CLS] hello unaffable ! [SEP]");
  EXPECT_EQ(tok_->id_to_token(9999), "[UNK]");
}

TEST_F(UncasedTest, HfTokenizerConfig) {
  const auto j = nlohmann::json::parse(tok_->hf_tokenizer_config());
  EXPECT_EQ(j["tokenizer_class"], "ElectraTokenizer");
  EXPECT_EQ(j["do_lower_case"], true);  // guessed: ℝ and [unused0] do not make it cased
  EXPECT_TRUE(j["strip_accents"].is_null());
  EXPECT_EQ(j["mask_token"], "[MASK]");
}

// cased_vocab.txt: 0-4 specials, 5 Hello 6 hello 7 World 8 ! 9 Café 10 cafe 11 ##s
TEST(WordPieceCased, KeepsCaseAndAccents) {
  auto tok = load_wordpiece(fixture("cased_vocab.txt"));  // guessed cased
  EXPECT_EQ(tok->encode("Hello World!"), (Ids{5, 7, 8}));
  EXPECT_EQ(tok->encode("hello"), (Ids{6}));
  EXPECT_EQ(tok->encode("HELLO"), (Ids{1}));
  EXPECT_EQ(tok->encode("Café cafe"), (Ids{9, 10}));
  EXPECT_EQ(tok->encode("Cafés"), (Ids{9, 11}));
  // BERT does not normalise cased text: a decomposed é does not match the composed token.
  EXPECT_EQ(tok->encode("Cafe\xCC\x81"), (Ids{1}));
  EXPECT_EQ(nlohmann::json::parse(tok->hf_tokenizer_config())["do_lower_case"], false);

  auto forced = load_wordpiece(fixture("cased_vocab.txt"), 1);
  EXPECT_EQ(forced->encode("Hello CAFÉ"), (Ids{6, 10}));
  auto uncased_as_cased = load_wordpiece(fixture("uncased_vocab.txt"), 0);
  EXPECT_EQ(uncased_as_cased->encode("Hello hello"), (Ids{1, 9}));
}

// chinese_vocab.txt: 0-4 specials, 5 我 6 爱 7 中 8 国 9 ， 10 。 11 bert 12 ##s 13 abc
// 14 人 15 豈 (U+8C48) 16 に
TEST(WordPieceChinese, OneTokenPerIdeograph) {
  auto tok = load_wordpiece(fixture("chinese_vocab.txt"));
  EXPECT_EQ(tok->encode("我爱中国。"), (Ids{5, 6, 7, 8, 10}));
  EXPECT_EQ(tok->encode("中国人"), (Ids{7, 8, 14}));
  // Latin runs stay words; ideographs split off even without spaces.
  EXPECT_EQ(tok->encode("我爱BERTs，abc人"), (Ids{5, 6, 11, 12, 9, 13, 14}));
  EXPECT_EQ(tok->tokenize("abc人abc"), (Strs{"abc", "人", "abc"}));
  // U+F900, a compatibility ideograph, normalises (NFD) to U+8C48.
  EXPECT_EQ(tok->encode("\xEF\xA4\x80"), (Ids{15}));
  // Hiragana is not a CJK ideograph: にほん stays one word, and ##ほ is missing -> [UNK].
  EXPECT_EQ(tok->encode("にほん"), (Ids{1}));
  EXPECT_EQ(tok->encode("に"), (Ids{16}));
}

class VocabFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& bytes) { return tmp_.write("vocab.txt", bytes); }
  std::string load_error(const std::string& bytes) {
    return testing::user_error_of([&] { load_wordpiece(write(bytes)); });
  }
  testing::TempDir tmp_;
};

constexpr const char* kSpecials = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

TEST_F(VocabFileTest, AcceptsBomCrlfAndNoFinalNewline) {
  auto tok = load_wordpiece(write("\xEF\xBB\xBF[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhi"));
  EXPECT_EQ(tok->vocab_size(), 6);
  EXPECT_EQ(tok->special().pad, 0);
  EXPECT_EQ(tok->encode("hi"), (Ids{5}));
}

TEST_F(VocabFileTest, SpecialsMayBeAnywhere) {
  auto tok = load_wordpiece(write("a\n[MASK]\n[SEP]\n[CLS]\n[UNK]\n[PAD]\n"));
  EXPECT_EQ(tok->special().mask, 1);
  EXPECT_EQ(tok->special().pad, 5);
  EXPECT_EQ(tok->encode("a b"), (Ids{0, 4}));
}

TEST_F(VocabFileTest, ErrorsNameTheFileAndLine) {
  std::string e = load_error(std::string(kSpecials) + "a\nb\na\n");
  EXPECT_NE(e.find(":8: token 'a' already appears on line 6"), std::string::npos) << e;
  e = load_error(std::string(kSpecials) + "a\n\nb\n");
  EXPECT_NE(e.find(":7: empty line"), std::string::npos) << e;
  e = load_error(std::string(kSpecials) + "a\nb\xFF\n");
  EXPECT_NE(e.find(":7: the token is not valid UTF-8"), std::string::npos) << e;
  e = load_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\n");
  EXPECT_NE(e.find("has no [MASK] token"), std::string::npos) << e;
  e = load_error("");
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  EXPECT_THROW(load_wordpiece("/nonexistent/vocab.txt"), UserError);
}

TEST(WordPieceLoad, LoadTokenizerPicksWordPieceForVocabTxt) {
  auto tok = load_tokenizer(fixture("cased_vocab.txt"), "--tokenizer");
  EXPECT_EQ(tok->kind(), "wordpiece");
  EXPECT_EQ(tok->encode("Hello"), (Ids{5}));
}

}  // namespace
}  // namespace electra::data
