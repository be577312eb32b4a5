#include "data/tokenizer.h"

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace electra::data {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const std::string& key) {
  ELECTRA_CHECK_USER(!path.empty(), key,
                     " is not set: give a SentencePiece .model or a BERT vocab.txt (train one "
                     "with `electra vocab`)");
  std::string file = path;
  if (fs::is_dir(path)) {
    file.clear();
    for (const char* name : {"spm.model", "tokenizer.model", "vocab.txt"}) {
      if (fs::exists(fs::join(path, name))) {
        file = fs::join(path, name);
        break;
      }
    }
    ELECTRA_CHECK_USER(!file.empty(), key, ": the directory '", path,
                       "' holds no spm.model, tokenizer.model or vocab.txt");
  }
  ELECTRA_CHECK_USER(fs::exists(file), key, ": the tokenizer file '", file, "' does not exist");
  if (ends_with(file, ".model")) return load_sentencepiece(file);
  if (ends_with(file, ".txt")) return load_wordpiece(file);
  // Neither extension: SentencePiece models are binary protobufs, vocab.txt is text.
  const std::string head = fs::read_file(file, key).substr(0, 4096);
  size_t bad = 0;
  if (is_valid_utf8(head, &bad) || bad + 4 > head.size()) return load_wordpiece(file);
  return load_sentencepiece(file);
}

}  // namespace electra::data
