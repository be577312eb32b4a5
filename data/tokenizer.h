// Tokenizers: SentencePiece models (.model) and BERT WordPiece vocabularies (vocab.txt),
// behind one interface. The type is told apart by the file, never by a flag.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace electra::data {

// Ids of the special tokens every ELECTRA input uses.
struct SpecialIds {
  int32_t pad = 0, unk = 1, cls = 2, sep = 3, mask = 4;
  bool is_special(int32_t id) const {
    return id == pad || id == unk || id == cls || id == sep || id == mask;
  }
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text -> ids, without [CLS]/[SEP].
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Text -> token strings (pieces), without [CLS]/[SEP].
  virtual std::vector<std::string> tokenize(std::string_view text) const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;
  // -1 when the token is not in the vocabulary.
  virtual int32_t token_to_id(const std::string& token) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Ids -> readable text (pieces joined the tokenizer's way).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string kind() const = 0;  // "sentencepiece" | "wordpiece"
  // The file that defines this tokenizer, copied next to checkpoints and exports under
  // canonical_name() ("spm.model" or "vocab.txt").
  virtual std::vector<std::string> files() const = 0;
  virtual std::string canonical_name() const = 0;
  // HF tokenizer_config.json text for exports ("" when HF has no matching tokenizer class).
  virtual std::string hf_tokenizer_config() const { return ""; }

  const SpecialIds& special() const { return special_; }

 protected:
  SpecialIds special_;
};

// Loads a tokenizer from a file (.model: SentencePiece; vocab.txt or *.txt: WordPiece) or a
// directory holding one of: spm.model, tokenizer.model, vocab.txt. `key` names the config key
// or flag for error messages.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const std::string& key);

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);
// Options for load_wordpiece: lower-case + strip accents (uncased vocabularies).
// `do_lower_case` < 0 means: guess from the vocabulary (no upper-case letters -> uncased).
std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_path, int do_lower_case = -1);

struct VocabTrainOptions {
  std::vector<std::string> inputs;  // files, directories, globs
  std::string format = "text";      // corpus format (see corpus.h)
  int64_t vocab_size = 8000;
  std::string model_type = "unigram";  // unigram | bpe
  int64_t max_sentences = 2000000;     // sentencepiece input_sentence_size
  double character_coverage = 0.9995;
  int num_threads = 2;
};
// Trains a SentencePiece model with [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 and writes
// `out_dir/spm.model` and `out_dir/spm.vocab`. Returns the model path.
std::string train_sentencepiece(const VocabTrainOptions& opts, const std::string& out_dir);

}  // namespace electra::data
