// Fuzzes WordPiece vocabulary loading (data/wordpiece_tokenizer.cpp, via load_tokenizer as a
// user's `data.tokenizer` reaches it) and then tokenizes a fixed text plus the vocabulary's own
// bytes with the tokenizer it defines. The first byte picks the casing option.
#include "data/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const int lower = static_cast<int>(electra::fuzz::take_selector(&bytes) % 3) - 1;  // -1, 0, 1
  const std::string path = electra::fuzz::Scratch::get().write("vocab.txt", bytes);
  const auto tok = electra::data::load_wordpiece(path, lower);
  const std::string sample =
      "Hello, WORLD! naïve café 中文字符 \xF0\x9F\x98\x80 [MASK] unaffable ##ing " +
      std::string(bytes.substr(0, 256));
  const auto ids = tok->encode(sample);
  for (int32_t id : ids)
    (void)tok->id_to_token(id);
  (void)tok->tokenize(sample);
  (void)tok->decode(ids);
  (void)tok->decode({-1, 0, static_cast<int32_t>(tok->vocab_size()), 1 << 30});
}
