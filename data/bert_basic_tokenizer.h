// BERT's BasicTokenizer: the text clean-up and word splitting that runs before WordPiece.
//
// For each whitespace-separated word of the cleaned text, in BERT's order:
//   1. clean-up: NUL, U+FFFD, invalid UTF-8 and control characters (Unicode C*, except
//      \t \n \r) are dropped; \t \n \r, Zs, Zl and Zp separate words;
//   2. every CJK ideograph (the code-point blocks BERT lists) becomes a word of its own;
//   3. uncased: lower-case the word (full Unicode mapping, final sigma included), NFD, and drop
//      the non-spacing marks (Mn), which strips accents;
//   4. split on punctuation: Unicode P* plus the ASCII symbols BERT counts as punctuation
//      (!"#$%&'()*+,-./ :;<=>?@ [\]^_` {|}~), each punctuation character a word of its own.
// The words go to a sink one by one, so nothing per word is allocated.
#pragma once

#include <string>
#include <string_view>

namespace electra::data {

class WordSink {
 public:
  virtual ~WordSink() = default;
  // A non-empty UTF-8 word, valid until the call returns.
  virtual void word(std::string_view w) = 0;
};

class BertBasicTokenizer {
 public:
  explicit BertBasicTokenizer(bool lower_case) : lower_case_(lower_case) {}
  bool lower_case() const { return lower_case_; }
  // Thread-safe: scratch buffers are per thread.
  void split(std::string_view text, WordSink& sink) const;

 private:
  bool lower_case_;
};

// BERT's _is_chinese_char: the CJK Unified Ideographs blocks and their extensions A-E, and the
// CJK Compatibility Ideographs (and supplement). Not Hangul, Hiragana or Katakana.
inline bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Decodes one UTF-8 code point at s[i] (i < s.size()) and advances i. Malformed sequences
// (bad lead or continuation byte, overlong form, surrogate, > U+10FFFF, truncated) decode as
// U+FFFD and advance one byte, so clean-up drops them as BERT drops U+FFFD.
char32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t c);
// Whether a letter has a different lower-case form ('A', 'É'; not 'ℝ' or 'a').
bool has_lower_case_form(char32_t c);

}  // namespace electra::data
