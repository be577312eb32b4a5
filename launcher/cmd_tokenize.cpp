// `electra tokenize`: shows how a tokenizer (SentencePiece .model or WordPiece vocab.txt) cuts
// a text, to check a vocabulary before pre-training on it.
#include <iostream>

#include "common/error.h"
#include "data/tokenizer.h"
#include "launcher/command.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra tokenize options");
  desc.add_options()("tokenizer", po::value<std::string>()->required(),
                     "a SentencePiece .model, a WordPiece vocab.txt, or a directory holding one")(
      "text", po::value<std::string>()->required(), "the text to tokenize")(
      "format", po::value<std::string>()->default_value("both"), "tokens | ids | both");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra tokenize --tokenizer PATH --text TEXT [--format F]\n\n"
                  "Prints how the tokenizer cuts TEXT, without [CLS]/[SEP]:\n"
                  "  --format tokens  one line: the tokens, separated by single spaces\n"
                  "  --format ids     one line: the token ids, separated by single spaces\n"
                  "  --format both    (default) the tokens line, then the ids line\n"
                  "The tokenizer type follows the file: .model is SentencePiece, vocab.txt is\n"
                  "WordPiece (lower-cased when the vocabulary has no upper-case letters)."))
    return 0;
  const std::string format = vm["format"].as<std::string>();
  ELECTRA_CHECK_USER(format == "tokens" || format == "ids" || format == "both",
                     "--format must be tokens, ids or both, got '", format, "'");
  const auto tok = data::load_tokenizer(vm["tokenizer"].as<std::string>(), "--tokenizer");
  const std::vector<int32_t> ids = tok->encode(vm["text"].as<std::string>());
  if (format != "ids") {
    for (size_t i = 0; i < ids.size(); ++i)
      std::cout << (i ? " " : "") << tok->id_to_token(ids[i]);
    std::cout << "\n";
  }
  if (format != "tokens") {
    for (size_t i = 0; i < ids.size(); ++i)
      std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

Registrar reg({"tokenize", "show the tokens and ids a tokenizer gives a text", run});

}  // namespace
}  // namespace electra::launcher
