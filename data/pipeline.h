// The pretraining input pipeline of one rank:
//   CorpusStream -> Tokenizer -> SequencePacker -> batches -> masking
// with its whole state (corpus cursor, packer buffer, pending examples, batch counter) taken
// after every batch, so a checkpoint can resume it exactly. Prefetcher runs it on a background
// thread behind a bounded queue.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "data/batch.h"
#include "data/corpus.h"
#include "data/packer.h"
#include "data/tokenizer.h"

namespace electra::data {

struct PipelineOptions {
  CorpusOptions corpus;
  ShardSpec shard;
  int64_t seq_len = 128;
  int64_t batch_size = 32;  // per rank, per micro-step
  MaskOptions mask;
  uint64_t seed = 0;
};

struct DataState {
  CorpusCursor corpus;
  PackerState packer;
  std::vector<Example> pending;  // packed examples not yet put in a batch
  int64_t batches = 0;           // batches produced so far (seeds the masking)
  std::string to_json() const;
  static DataState from_json(const std::string& json, const std::string& origin);
};

struct StatefulBatch {
  Batch batch;
  DataState state;  // the pipeline state right after producing `batch`
};

class PretrainStream {
 public:
  PretrainStream(PipelineOptions options, std::shared_ptr<const Tokenizer> tokenizer);
  StatefulBatch next();
  DataState state() const;
  void restore(const DataState& state);

 private:
  PipelineOptions opts_;
  std::shared_ptr<const Tokenizer> tok_;
  CorpusStream corpus_;
  SequencePacker packer_;
  std::deque<Example> pending_;
  int64_t batches_ = 0;
};

class Prefetcher {
 public:
  // Starts a thread that keeps up to `depth` batches ready.
  Prefetcher(std::unique_ptr<PretrainStream> stream, size_t depth);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  // Blocks for the next batch; rethrows an exception raised by the producer thread.
  StatefulBatch next();

 private:
  void run();
  std::unique_ptr<PretrainStream> stream_;
  size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StatefulBatch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace electra::data
