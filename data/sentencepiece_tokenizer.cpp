// SentencePiece models, through libelectra_spm.so (see data/spm_bridge/spm_bridge.h for why
// sentencepiece is loaded in its own symbol scope).
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/corpus.h"
#include "data/spm_bridge/spm_bridge.h"
#include "data/tokenizer.h"

#ifndef ELECTRA_SPM_BRIDGE_PATH
#define ELECTRA_SPM_BRIDGE_PATH ""
#endif

namespace electra::data {
namespace {

struct Bridge {
  decltype(&espm_load) load;
  decltype(&espm_free) free;
  decltype(&espm_piece_size) piece_size;
  decltype(&espm_unk_id) unk_id;
  decltype(&espm_piece_to_id) piece_to_id;
  decltype(&espm_id_to_piece) id_to_piece;
  decltype(&espm_encode_ids) encode_ids;
  decltype(&espm_encode_pieces) encode_pieces;
  decltype(&espm_decode_ids) decode_ids;
  decltype(&espm_train) train;
};

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

const Bridge& bridge() {
  static Bridge b = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("ELECTRA_SPM_BRIDGE")) candidates.push_back(env);
    const std::string dir = self_dir();
    if (!dir.empty()) {
      candidates.push_back(fs::join(dir, "libelectra_spm.so"));
      candidates.push_back(fs::join(dir, "../lib/libelectra_spm.so"));
    }
    if (*ELECTRA_SPM_BRIDGE_PATH) candidates.push_back(ELECTRA_SPM_BRIDGE_PATH);
    void* h = nullptr;
    std::string errors;
    for (const auto& c : candidates) {
      if (!fs::exists(c)) continue;
#if defined(__SANITIZE_ADDRESS__)
      // ASan rejects RTLD_DEEPBIND; a separate link-map namespace isolates the library too.
      h = dlmopen(LM_ID_NEWLM, c.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
      h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
      if (h) break;
      errors += cat("\n  ", c, ": ", dlerror());
    }
    if (!h)
      throw std::runtime_error(
          cat("cannot load libelectra_spm.so (SentencePiece support); "
              "looked next to the electra binary and in the build tree",
              errors, "\n  Set ELECTRA_SPM_BRIDGE to its path"));
    Bridge r{};
    auto sym = [&](auto* fn, const char* name) {
      void* p = dlsym(h, name);
      if (!p) throw std::runtime_error(cat("libelectra_spm.so lacks ", name));
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(p);
    };
    sym(&r.load, "espm_load");
    sym(&r.free, "espm_free");
    sym(&r.piece_size, "espm_piece_size");
    sym(&r.unk_id, "espm_unk_id");
    sym(&r.piece_to_id, "espm_piece_to_id");
    sym(&r.id_to_piece, "espm_id_to_piece");
    sym(&r.encode_ids, "espm_encode_ids");
    sym(&r.encode_pieces, "espm_encode_pieces");
    sym(&r.decode_ids, "espm_decode_ids");
    sym(&r.train, "espm_train");
    return r;
  }();
  return b;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    const std::string bytes = fs::read_file(path, "SentencePiece model");
    char err[512] = {0};
    model_ = bridge().load(bytes.data(), bytes.size(), err, sizeof err);
    ELECTRA_CHECK_USER(model_ != nullptr, "cannot load SentencePiece model '", path, "': ", err,
                       ". Give a .model file written by `electra vocab` or spm_train");
    special_.pad = find({"[PAD]", "<pad>"});
    special_.unk = bridge().unk_id(model_);
    special_.cls = find({"[CLS]"});
    special_.sep = find({"[SEP]"});
    special_.mask = find({"[MASK]"});
    for (auto [name, id] : {std::pair<const char*, int32_t>{"[PAD]", special_.pad},
                            {"[CLS]", special_.cls},
                            {"[SEP]", special_.sep},
                            {"[MASK]", special_.mask}}) {
      ELECTRA_CHECK_USER(id >= 0, "SentencePiece model '", path, "' has no ", name,
                         " piece. ELECTRA needs [PAD] [UNK] [CLS] [SEP] [MASK]; train a model "
                         "with `electra vocab`, which puts them at ids 0-4");
    }
  }
  ~SentencePieceTokenizer() override { bridge().free(model_); }

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids(text.size() + 8);
    size_t n = bridge().encode_ids(model_, text.data(), text.size(), ids.data(), ids.size());
    if (n > ids.size()) {
      ids.resize(n);
      n = bridge().encode_ids(model_, text.data(), text.size(), ids.data(), ids.size());
    }
    ids.resize(n);
    return ids;
  }
  std::vector<std::string> tokenize(std::string_view text) const override {
    std::string buf(4 * text.size() + 64, '\0');
    size_t n = bridge().encode_pieces(model_, text.data(), text.size(), buf.data(), buf.size());
    if (n > buf.size()) {
      buf.resize(n);
      n = bridge().encode_pieces(model_, text.data(), text.size(), buf.data(), buf.size());
    }
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] == '\0') {
        out.emplace_back(buf.data() + start, i - start);
        start = i + 1;
      }
    }
    return out;
  }
  std::string id_to_token(int32_t id) const override {
    char buf[256];
    const size_t n = bridge().id_to_piece(model_, id, buf, sizeof buf);
    if (n == 0) return "[UNK]";
    if (n < sizeof buf) return std::string(buf, n);
    std::string big(n + 1, '\0');
    bridge().id_to_piece(model_, id, big.data(), big.size());
    big.resize(n);
    return big;
  }
  int32_t token_to_id(const std::string& token) const override {
    return bridge().piece_to_id(model_, token.data(), token.size());
  }
  int64_t vocab_size() const override { return bridge().piece_size(model_); }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<int> v(ids.begin(), ids.end());
    std::string buf(8 * ids.size() + 16, '\0');
    size_t n = bridge().decode_ids(model_, v.data(), v.size(), buf.data(), buf.size());
    if (n > buf.size()) {
      buf.resize(n);
      n = bridge().decode_ids(model_, v.data(), v.size(), buf.data(), buf.size());
    }
    buf.resize(n);
    return buf;
  }
  std::string kind() const override { return "sentencepiece"; }
  std::vector<std::string> files() const override { return {path_}; }
  std::string canonical_name() const override { return "spm.model"; }

 private:
  int32_t find(std::initializer_list<const char*> names) const {
    for (const char* n : names) {
      const int32_t id = token_to_id(n);
      if (id >= 0) return id;
    }
    return -1;
  }
  std::string path_;
  espm* model_ = nullptr;
};

// Feeds corpus lines to the trainer without writing a temporary text file.
struct SentenceFeed {
  CorpusStream stream;
  int64_t limit;
  int64_t count = 0;
  TextLine line;

  static int next(void* ctx, const char** text, size_t* n) {
    auto* self = static_cast<SentenceFeed*>(ctx);
    while (self->count < self->limit && self->stream.next_in_epoch(&self->line)) {
      if (self->line.text.empty()) continue;
      ++self->count;
      *text = self->line.text.data();
      *n = self->line.text.size();
      return 1;
    }
    return 0;
  }
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path) {
  return std::make_unique<SentencePieceTokenizer>(model_path);
}

std::string train_sentencepiece(const VocabTrainOptions& opts, const std::string& out_dir) {
  ELECTRA_CHECK_USER(opts.vocab_size >= 16, "--vocab-size must be at least 16, got ",
                     opts.vocab_size);
  ELECTRA_CHECK_USER(opts.model_type == "unigram" || opts.model_type == "bpe",
                     "--model-type must be unigram or bpe, got '", opts.model_type, "'");
  CorpusOptions co;
  co.files = fs::expand_inputs(opts.inputs, "--input");
  co.format = parse_corpus_format(opts.format, "--format");
  co.shuffle = false;
  SentenceFeed feed{CorpusStream(co, ShardSpec{}), opts.max_sentences};
  fs::ensure_writable_dir(out_dir, "--out");

  // Train into a staging prefix, then rename: a failure never leaves a half-written model.
  const std::string prefix = fs::join(out_dir, "spm");
  const std::string staging = prefix + ".tmp-" + std::to_string(::getpid());
  const std::vector<std::pair<std::string, std::string>> args = {
      {"model_prefix", staging},
      {"vocab_size", std::to_string(opts.vocab_size)},
      {"model_type", opts.model_type},
      {"character_coverage", std::to_string(opts.character_coverage)},
      {"input_sentence_size", std::to_string(opts.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(opts.num_threads)},
      // Fixed special ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, no BOS/EOS.
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"pad_piece", "[PAD]"},
      {"unk_piece", "[UNK]"},
      {"user_defined_symbols", "[CLS],[SEP],[MASK]"},
      {"hard_vocab_limit", "false"},
      {"minloglevel", "1"},
  };
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : args) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  char err[1024] = {0};
  const int rc = bridge().train(keys.data(), values.data(), args.size(), &SentenceFeed::next, &feed,
                                err, sizeof err);
  if (rc != 0) {
    fs::remove_all(staging + ".model");
    fs::remove_all(staging + ".vocab");
    throw_user("SentencePiece training failed: ", err);
  }
  ELECTRA_CHECK_USER(feed.count > 0, "--input: the corpus has no text lines");
  std::filesystem::rename(staging + ".vocab", prefix + ".vocab");
  std::filesystem::rename(staging + ".model", prefix + ".model");
  log::info("trained a ", opts.vocab_size, "-piece ", opts.model_type, " vocabulary on ",
            feed.count, " lines: ", prefix, ".model");
  return prefix + ".model";
}

}  // namespace electra::data
