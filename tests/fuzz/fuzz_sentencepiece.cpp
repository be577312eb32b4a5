// Fuzzes SentencePiece model loading (data/sentencepiece_tokenizer.cpp and the dlmopen'ed
// bridge, data/spm_bridge): the bytes are written as a .model file and loaded the way
// `data.tokenizer: x.model` is, then used to encode and decode a fixed text.
#include "data/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

ELECTRA_FUZZ_ENTRY {
  const std::string path = electra::fuzz::Scratch::get().write("fuzz.model", bytes);
  const auto tok = electra::data::load_tokenizer(path, "data.tokenizer");
  const auto ids = tok->encode("Hello world, this is a test. 中文 \xF0\x9F\x98\x80");
  (void)tok->decode(ids);
  for (int32_t id : ids)
    (void)tok->id_to_token(id);
  (void)tok->decode({-1, 0, static_cast<int32_t>(tok->vocab_size()), 1 << 30});
  (void)tok->token_to_id("[MASK]");
}
