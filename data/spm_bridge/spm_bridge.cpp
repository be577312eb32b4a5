// Implementation of the C bridge in spm_bridge.h. Must not include LibTorch headers.
#include "data/spm_bridge/spm_bridge.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct espm {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

void set_err(char* err, size_t errlen, const std::string& msg) {
  if (!err || errlen == 0) return;
  const size_t n = std::min(errlen - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

class CallbackIterator : public sentencepiece::SentenceIterator {
 public:
  CallbackIterator(espm_next_sentence next, void* ctx) : next_(next), ctx_(ctx) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    const char* t = nullptr;
    size_t n = 0;
    if (next_(ctx_, &t, &n)) {
      value_.assign(t, n);
    } else {
      done_ = true;
    }
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  espm_next_sentence next_;
  void* ctx_;
  std::string value_;
  bool done_ = false;
};

}  // namespace

extern "C" {

espm* espm_load(const char* bytes, size_t n, char* err, size_t errlen) {
  auto m = std::make_unique<espm>();
  // A malformed model can make SentencePiece throw instead of returning a status (an empty
  // piece: Darts' "zero-length key", found by tests/fuzz/fuzz_sentencepiece). No exception may
  // leave this module: it lives in its own dlmopen namespace, with its own C++ runtime, and the
  // caller could not catch it.
  try {
    const auto status = m->sp.LoadFromSerializedProto(absl::string_view(bytes, n));
    if (!status.ok()) {
      set_err(err, errlen, status.ToString());
      return nullptr;
    }
  } catch (const std::exception& e) {
    set_err(err, errlen, std::string("the model is malformed: ") + e.what());
    return nullptr;
  } catch (...) {
    set_err(err, errlen, "the model is malformed");
    return nullptr;
  }
  return m.release();
}

void espm_free(espm* m) {
  delete m;
}
int espm_piece_size(const espm* m) {
  return m->sp.GetPieceSize();
}
int espm_unk_id(const espm* m) {
  return m->sp.unk_id();
}

int espm_piece_to_id(const espm* m, const char* piece, size_t n) {
  const absl::string_view p(piece, n);
  const int id = m->sp.PieceToId(p);
  // PieceToId answers unk_id for unknown pieces: confirm the round trip.
  return m->sp.IdToPiece(id) == std::string(piece, n) ? id : -1;
}

size_t espm_id_to_piece(const espm* m, int id, char* buf, size_t buflen) {
  if (id < 0 || id >= m->sp.GetPieceSize()) return 0;
  const std::string& p = m->sp.IdToPiece(id);
  set_err(buf, buflen, p);
  return p.size();
}

size_t espm_encode_ids(const espm* m, const char* text, size_t n, int* out, size_t cap) {
  std::vector<int> ids;
  m->sp.Encode(absl::string_view(text, n), &ids).IgnoreError();
  std::copy_n(ids.begin(), std::min(cap, ids.size()), out);
  return ids.size();
}

size_t espm_encode_pieces(const espm* m, const char* text, size_t n, char* buf, size_t cap) {
  std::vector<std::string> pieces;
  m->sp.Encode(absl::string_view(text, n), &pieces).IgnoreError();
  std::string joined;
  for (const auto& p : pieces) {
    joined += p;
    joined.push_back('\0');
  }
  std::memcpy(buf, joined.data(), std::min(cap, joined.size()));
  return joined.size();
}

size_t espm_decode_ids(const espm* m, const int* ids, size_t n, char* buf, size_t cap) {
  std::string text;
  m->sp.Decode(std::vector<int>(ids, ids + n), &text).IgnoreError();
  std::memcpy(buf, text.data(), std::min(cap, text.size()));
  return text.size();
}

int espm_train(const char* const* keys, const char* const* values, size_t nargs,
               espm_next_sentence next, void* ctx, char* err, size_t errlen) {
  std::unordered_map<std::string, std::string> args;
  for (size_t i = 0; i < nargs; ++i)
    args[keys[i]] = values[i];
  CallbackIterator it(next, ctx);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it);
  if (!status.ok()) {
    set_err(err, errlen, status.ToString());
    return 1;
  }
  return 0;
}

}  // extern "C"
