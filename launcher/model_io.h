// Helpers shared by the commands that run a HuggingFace model directory on user input
// (forward, sample, detect).
#pragma once

#include <ATen/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "launcher/command.h"
#include "model/hf_io.h"

namespace electra::launcher {

// Loads `dir` for inference (eval mode, no dropout). With `want` set, a model of another
// architecture is a UserError naming `command`.
model::TaskModel load_model_for_inference(const std::string& dir, model::WeightsFormat format,
                                          const model::Architecture* want,
                                          const std::string& command);

// `--tokenizer` when given, else the tokenizer files in the model directory. UserError when
// its vocabulary does not fit the model's.
std::unique_ptr<data::Tokenizer> tokenizer_for_model(const std::string& tokenizer_flag,
                                                     const std::string& model_dir,
                                                     int64_t model_vocab_size);

// [CLS] text [SEP] as ids; every literal "[MASK]" in the text becomes the mask id, whatever
// the tokenizer would make of the brackets.
std::vector<int64_t> encode_sentence(const data::Tokenizer& tok, const std::string& text);

// A sentence ready for a model: the commands that read --text (sample, detect).
struct SentenceInput {
  model::TaskModel model;
  std::unique_ptr<data::Tokenizer> tokenizer;
  std::vector<int64_t> ids;  // [CLS] text [SEP]
};
// --model, --text, --tokenizer, --weights.
void add_sentence_options(po::options_description& desc, const std::string& model_help,
                          const std::string& text_help);
// Loads the model (which must be a `want`), its tokenizer and the encoded --text; UserError for
// an empty text or one longer than max_position_embeddings.
SentenceInput read_sentence_input(const po::variables_map& vm, model::Architecture want,
                                  const std::string& command);

// "1 2 3; 4 5 6" -> [rows, cols] int64. UserError naming `flag` for ragged or empty input.
at::Tensor parse_id_rows(const std::string& text, const std::string& flag);

}  // namespace electra::launcher
