// Streaming, sharded corpus reader. Never holds the corpus in memory: it reads one line at a
// time from the files of this rank's shard.
//
// Sharding: every file is cut into byte-range chunks (whole small files, or pieces of
// `chunk_bytes` of a large one). A chunk owns the documents whose separator starts inside its
// byte range, so chunk boundaries fall on document boundaries and every document belongs to
// exactly one chunk. Each epoch the chunk list is shuffled with (seed, epoch) and dealt
// round-robin to the ranks: across ranks every document is read exactly once per epoch, in an
// order fixed by (seed, epoch, rank).
//
// Formats:
//   text           documents separated by blank lines; each line is one unit (sentence)
//   wikiextractor  <doc ...> ... </doc> blocks (WikiExtractor output); each line a paragraph
//   jsonl          one JSON object per line with a "text" string; its lines are the units
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace electra::data {

enum class CorpusFormat { kText, kWikiExtractor, kJsonl };
CorpusFormat parse_corpus_format(const std::string& name, const std::string& key);
const char* corpus_format_name(CorpusFormat f);

struct ShardSpec {
  int rank = 0;
  int world = 1;
};

struct CorpusOptions {
  std::vector<std::string> files;  // already expanded (fs::expand_inputs)
  CorpusFormat format = CorpusFormat::kText;
  uint64_t seed = 0;
  uint64_t chunk_bytes = 0;  // 0: automatic (about 8 chunks per rank, 64 KiB .. 64 MiB)
  bool shuffle = true;       // shuffle the chunk order each epoch
};

struct TextLine {
  std::string text;
  bool new_document = false;  // first unit of a document
};

// Where a rank's stream stands; stored in checkpoints so a resumed job continues exactly.
struct CorpusCursor {
  int64_t epoch = 0;
  int64_t chunk = 0;         // index into this rank's chunk list for `epoch`
  uint64_t offset = 0;       // byte offset of the next line in the chunk's file
  bool positioned = false;   // false: the chunk has not been opened yet
  bool next_new_doc = true;  // whether the next unit starts a document
  int64_t units_read = 0;    // total units delivered by this rank (for logs)
  int64_t sub = 0;           // jsonl: units of the object at `offset` already delivered
  int world = 1;             // the sharding this cursor belongs to
  std::string to_json() const;
  static CorpusCursor from_json(const std::string& json, const std::string& origin);
};

struct Chunk {
  size_t file = 0;  // index into CorpusOptions::files
  uint64_t begin = 0, end = 0;
};

class CorpusStream {
 public:
  CorpusStream(CorpusOptions opts, ShardSpec shard);
  CorpusStream(CorpusStream&&) noexcept;
  CorpusStream& operator=(CorpusStream&&) noexcept;
  ~CorpusStream();

  // Next unit of this rank's shard, moving on to the next epoch at the end of one.
  // Throws UserError if a whole epoch holds no text (empty corpus).
  void next(TextLine* line);
  // Like next() but returns false at the end of the current epoch instead of wrapping.
  bool next_in_epoch(TextLine* line);

  CorpusCursor cursor() const;
  // Continues from a cursor saved by cursor(); refuses one from a different world size.
  void seek(const CorpusCursor& cursor);

  // This rank's chunks for an epoch, in reading order.
  std::vector<Chunk> chunks_for_epoch(int64_t epoch) const;
  const std::vector<Chunk>& all_chunks() const { return chunks_; }
  const CorpusOptions& options() const { return opts_; }

 private:
  struct Reader;
  bool open_chunk();
  bool read_unit(TextLine* line);

  CorpusOptions opts_;
  ShardSpec shard_;
  std::vector<Chunk> chunks_;  // global chunk list, before shuffling
  CorpusCursor cur_;
  std::vector<Chunk> epoch_chunks_;  // this rank's chunks for cur_.epoch
  std::unique_ptr<Reader> reader_;
  int64_t units_this_epoch_ = 0;
};

}  // namespace electra::data
