#include "data/pipeline.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_int.h"
#include "common/rng.h"

namespace electra::data {

using nlohmann::json;

std::string DataState::to_json() const {
  json ex = json::array();
  for (const auto& e : pending)
    ex.push_back({{"ids", e.ids}, {"types", e.types}, {"length", e.length}});
  return json{{"corpus", json::parse(corpus.to_json())},
              {"packer", json::parse(packer.to_json())},
              {"pending", ex},
              {"batches", batches}}
      .dump();
}

DataState DataState::from_json(const std::string& text, const std::string& origin) {
  DataState s;
  try {
    const json j = json::parse(text);
    s.corpus = CorpusCursor::from_json(j.at("corpus").dump(), origin);
    s.packer = PackerState::from_json(j.at("packer").dump(), origin);
    for (const auto& e : j.at("pending")) {
      Example x;
      x.ids = json_ints<int32_t>(e.at("ids"), origin + ": pending ids");
      x.types = json_ints<int8_t>(e.at("types"), origin + ": pending types");
      x.length = json_int<int32_t>(e, "length", origin);
      s.pending.push_back(std::move(x));
    }
    s.batches = json_int<int64_t>(j, "batches", origin);
  } catch (const json::exception& e) {
    throw_user(origin, ": corrupt data state: ", e.what());
  }
  return s;
}

PretrainStream::PretrainStream(PipelineOptions options, std::shared_ptr<const Tokenizer> tokenizer)
    : opts_(std::move(options)),
      tok_(std::move(tokenizer)),
      corpus_(opts_.corpus, opts_.shard),
      packer_(opts_.seq_len, tok_->special(),
              mix_seed({opts_.seed, static_cast<uint64_t>(opts_.shard.rank), 0x9ACCull})) {
  ELECTRA_CHECK_USER(opts_.batch_size >= 1, "train.batch_size must be at least 1");
  ELECTRA_CHECK_USER(opts_.mask.mask_prob > 0 && opts_.mask.mask_prob < 1,
                     "data.mask_prob must be in (0, 1), got ", opts_.mask.mask_prob);
}

StatefulBatch PretrainStream::next() {
  std::vector<Example> made;
  while (static_cast<int64_t>(pending_.size()) < opts_.batch_size) {
    TextLine line;
    corpus_.next(&line);
    made.clear();
    packer_.add(tok_->encode(line.text), line.new_document, &made);
    for (auto& e : made)
      pending_.push_back(std::move(e));
  }
  std::vector<Example> examples(pending_.begin(), pending_.begin() + opts_.batch_size);
  pending_.erase(pending_.begin(), pending_.begin() + opts_.batch_size);
  const uint64_t seed = mix_seed({opts_.seed, static_cast<uint64_t>(opts_.shard.rank),
                                  static_cast<uint64_t>(batches_), 0x3A5Cull});
  ++batches_;
  StatefulBatch out;
  out.batch = mask_examples(examples, tok_->special(), opts_.mask, seed);
  out.state = state();
  return out;
}

DataState PretrainStream::state() const {
  DataState s;
  s.corpus = corpus_.cursor();
  s.packer = packer_.state();
  s.pending.assign(pending_.begin(), pending_.end());
  s.batches = batches_;
  return s;
}

namespace {

// Token ids from a checkpoint index the embedding table: an id outside the vocabulary (a
// corrupted or hand-edited trainer state, or a checkpoint from another tokenizer) would read
// out of bounds in the first forward pass instead of failing here with a message.
void check_ids(const std::vector<int32_t>& ids, int64_t vocab, const char* what) {
  for (int32_t id : ids)
    ELECTRA_CHECK_USER(id >= 0 && id < vocab, "the checkpoint's data state holds token id ", id,
                       " in its ", what, ", outside this tokenizer's vocabulary of ", vocab,
                       ": resume with the tokenizer the run started with (data.tokenizer)");
}

}  // namespace

void PretrainStream::restore(const DataState& s) {
  const int64_t vocab = tok_->vocab_size();
  for (const auto& u : s.packer.units)
    check_ids(u, vocab, "packer buffer");
  for (const auto& e : s.pending) {
    ELECTRA_CHECK_USER(
        static_cast<int64_t>(e.ids.size()) == opts_.seq_len && e.types.size() == e.ids.size(),
        "the checkpoint's data state was written with another data.seq_len (", e.ids.size(), " vs ",
        opts_.seq_len, "); resume with the same seq_len");
    ELECTRA_CHECK_USER(e.length >= 2 && e.length <= opts_.seq_len,
                       "the checkpoint's data state has an example of length ", e.length,
                       " for seq_len ", opts_.seq_len, ": the trainer state file is corrupt");
    check_ids(e.ids, vocab, "pending examples");
    for (int8_t t : e.types)
      ELECTRA_CHECK_USER(t == 0 || t == 1, "the checkpoint's data state has token type ",
                         static_cast<int>(t),
                         " (only 0 and 1 exist): the trainer state file is "
                         "corrupt");
  }
  corpus_.seek(s.corpus);
  packer_.restore(s.packer);
  pending_.assign(s.pending.begin(), s.pending.end());
  batches_ = s.batches;
}

Prefetcher::Prefetcher(std::unique_ptr<PretrainStream> stream, size_t depth)
    : stream_(std::move(stream)), depth_(std::max<size_t>(1, depth)) {
  thread_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Prefetcher::run() {
  try {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
        if (stop_) return;
      }
      StatefulBatch b = stream_->next();  // the expensive part runs unlocked
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(b));
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

StatefulBatch Prefetcher::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || error_; });
  if (queue_.empty()) std::rethrow_exception(error_);
  StatefulBatch b = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace electra::data
