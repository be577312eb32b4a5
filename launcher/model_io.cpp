#include "launcher/model_io.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"

namespace electra::launcher {

model::TaskModel load_model_for_inference(const std::string& dir, model::WeightsFormat format,
                                          const model::Architecture* want,
                                          const std::string& command) {
  model::TaskModel m = model::load_hf_model(dir, format);
  ELECTRA_CHECK_USER(!want || m.architecture == *want, "electra ", command, " needs an ",
                     model::architecture_name(want ? *want : m.architecture), " but '", dir,
                     "' holds an ", model::architecture_name(m.architecture),
                     " (config.json \"architectures\")");
  m.module().eval();
  for (const auto& note : m.notes)
    log::info(m.weights_file, ": ", note);
  return m;
}

std::unique_ptr<data::Tokenizer> tokenizer_for_model(const std::string& tokenizer_flag,
                                                     const std::string& model_dir,
                                                     int64_t model_vocab_size) {
  auto tok = tokenizer_flag.empty() ? data::load_tokenizer(model_dir, "--model (tokenizer files)")
                                    : data::load_tokenizer(tokenizer_flag, "--tokenizer");
  ELECTRA_CHECK_USER(tok->vocab_size() <= model_vocab_size, "the tokenizer has ", tok->vocab_size(),
                     " tokens but the model in '", model_dir, "' only ", model_vocab_size,
                     " (vocab_size): they do not belong together. Give the "
                     "model's own tokenizer with --tokenizer");
  return tok;
}

std::vector<int64_t> encode_sentence(const data::Tokenizer& tok, const std::string& text) {
  static const std::string kMask = "[MASK]";
  std::vector<int64_t> ids = {tok.special().cls};
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t hit = text.find(kMask, pos);
    const std::string piece =
        text.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos);
    for (int32_t id : tok.encode(piece))
      ids.push_back(id);
    if (hit == std::string::npos) break;
    ids.push_back(tok.special().mask);
    pos = hit + kMask.size();
  }
  ids.push_back(tok.special().sep);
  return ids;
}

void add_sentence_options(po::options_description& desc, const std::string& model_help,
                          const std::string& text_help) {
  desc.add_options()("model", po::value<std::string>()->required(), model_help.c_str())(
      "text", po::value<std::string>()->required(), text_help.c_str())(
      "tokenizer", po::value<std::string>(),
      "spm.model or vocab.txt (default: the one in the model directory)")(
      "weights", po::value<std::string>()->default_value("auto"), "auto | safetensors | bin");
}

SentenceInput read_sentence_input(const po::variables_map& vm, model::Architecture want,
                                  const std::string& command) {
  const std::string dir = vm["model"].as<std::string>();
  SentenceInput in;
  in.model = load_model_for_inference(
      dir, model::parse_weights_format(vm["weights"].as<std::string>(), "--weights"), &want,
      command);
  const std::string tok_flag = vm.count("tokenizer") ? vm["tokenizer"].as<std::string>() : "";
  in.tokenizer = tokenizer_for_model(tok_flag, dir, in.model.config.vocab_size);
  in.ids = encode_sentence(*in.tokenizer, vm["text"].as<std::string>());
  ELECTRA_CHECK_USER(in.ids.size() > 2, "--text has no tokens");
  ELECTRA_CHECK_USER(static_cast<int64_t>(in.ids.size()) <= in.model.config.max_position_embeddings,
                     "--text is ", in.ids.size(),
                     " tokens with [CLS]/[SEP]; the model takes at "
                     "most ",
                     in.model.config.max_position_embeddings, " (max_position_embeddings)");
  return in;
}

at::Tensor parse_id_rows(const std::string& text, const std::string& flag) {
  std::vector<std::vector<int64_t>> rows;
  for (const auto& part : split(text, ';')) {
    if (trim(part).empty()) continue;
    rows.push_back(parse_int_list(part, flag));
  }
  ELECTRA_CHECK_USER(!rows.empty() && !rows[0].empty(), flag,
                     " is empty; give space-separated integers, rows separated by ';'");
  at::Tensor out =
      at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())},
                at::kLong);  // [rows, cols]
  auto a = out.accessor<int64_t, 2>();
  for (size_t r = 0; r < rows.size(); ++r) {
    ELECTRA_CHECK_USER(rows[r].size() == rows[0].size(), flag, ": row ", r + 1, " has ",
                       rows[r].size(), " values but row 1 has ", rows[0].size(),
                       "; every row must have the same length (pad it)");
    for (size_t c = 0; c < rows[r].size(); ++c)
      a[r][c] = rows[r][c];
  }
  return out;
}

}  // namespace electra::launcher
