#include "data/tokenizer.h"
#include "launcher/command.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra vocab options");
  desc.add_options()("input", po::value<std::vector<std::string>>()->required()->composing(),
                     "corpus files, directories or globs (repeatable)")(
      "vocab-size", po::value<int64_t>()->required(), "pieces in the vocabulary")(
      "out", po::value<std::string>()->required(), "directory for spm.model and spm.vocab")(
      "format", po::value<std::string>()->default_value("text"), "text | wikiextractor | jsonl")(
      "model-type", po::value<std::string>()->default_value("unigram"), "unigram | bpe")(
      "max-sentences", po::value<int64_t>()->default_value(2000000), "lines sampled for training")(
      "threads", po::value<int>()->default_value(2), "threads");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm,
                  "usage: electra vocab --input CORPUS... --vocab-size N --out DIR\n\n"
                  "Trains a SentencePiece model with [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4."))
    return 0;
  data::VocabTrainOptions o;
  o.inputs = vm["input"].as<std::vector<std::string>>();
  o.vocab_size = vm["vocab-size"].as<int64_t>();
  o.format = vm["format"].as<std::string>();
  o.model_type = vm["model-type"].as<std::string>();
  o.max_sentences = vm["max-sentences"].as<int64_t>();
  o.num_threads = vm["threads"].as<int>();
  data::train_sentencepiece(o, vm["out"].as<std::string>());
  return 0;
}

Registrar reg({"vocab", "train a SentencePiece vocabulary on a corpus", run});

}  // namespace
}  // namespace electra::launcher
