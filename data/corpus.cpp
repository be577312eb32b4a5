#include "data/corpus.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <filesystem>

#include "common/error.h"
#include "common/json_int.h"
#include "common/rng.h"
#include "common/strings.h"

namespace electra::data {

using nlohmann::json;

CorpusFormat parse_corpus_format(const std::string& name, const std::string& key) {
  if (name == "text") return CorpusFormat::kText;
  if (name == "wikiextractor") return CorpusFormat::kWikiExtractor;
  if (name == "jsonl") return CorpusFormat::kJsonl;
  throw_user(key, ": unknown corpus format '", name, "' (use text, wikiextractor or jsonl)");
}

const char* corpus_format_name(CorpusFormat f) {
  switch (f) {
    case CorpusFormat::kText:
      return "text";
    case CorpusFormat::kWikiExtractor:
      return "wikiextractor";
    case CorpusFormat::kJsonl:
      return "jsonl";
  }
  return "?";
}

std::string CorpusCursor::to_json() const {
  json j = {{"epoch", epoch},
            {"chunk", chunk},
            {"offset", offset},
            {"positioned", positioned},
            {"next_new_doc", next_new_doc},
            {"units_read", units_read},
            {"world", world},
            {"sub", sub}};
  return j.dump();
}

CorpusCursor CorpusCursor::from_json(const std::string& text, const std::string& origin) {
  CorpusCursor c;
  try {
    const json j = json::parse(text);
    c.epoch = json_int<int64_t>(j, "epoch", origin);
    c.chunk = json_int<int64_t>(j, "chunk", origin);
    c.offset = json_int<uint64_t>(j, "offset", origin);
    c.positioned = j.at("positioned").get<bool>();
    c.next_new_doc = j.at("next_new_doc").get<bool>();
    c.units_read = json_int<int64_t>(j, "units_read", origin);
    c.world = json_int<int>(j, "world", origin);
    c.sub = json_int_or<int64_t>(j, "sub", 0, origin);
  } catch (const json::exception& e) {
    throw_user(origin, ": corrupt corpus cursor: ", e.what());
  }
  ELECTRA_CHECK_USER(c.epoch >= 0 && c.chunk >= 0 && c.world >= 1 && c.sub >= 0, origin,
                     ": corrupt corpus cursor (negative fields)");
  return c;
}

// ---------------------------------------------------------------------------------------------

struct CorpusStream::Reader {
  std::ifstream in;
  std::string path;
  uint64_t pos = 0;      // offset of the next line start
  uint64_t end = 0;      // chunk end: a separator at or after it ends the chunk
  int64_t line_no = -1;  // 1-based number of the next line when known (chunk read from byte 0)
  std::deque<TextLine> pending;  // jsonl: units of the current object not yet delivered
  uint64_t pending_offset = 0;   // jsonl: offset of the object's line
  int64_t pending_taken = 0;     // jsonl: units of it already delivered

  // Reads one raw line; returns false at EOF. Sets *start to its offset.
  bool getline(std::string* line, uint64_t* start) {
    *start = pos;
    if (!std::getline(in, *line)) return false;
    pos += line->size() + (in.eof() ? 0 : 1);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line_no >= 0) ++line_no;
    return true;
  }

  std::string where(uint64_t start) const {
    if (line_no >= 0) return cat(path, ":", line_no);
    return cat(path, " (byte offset ", start, ")");
  }
};

namespace {

bool is_separator(CorpusFormat f, const std::string& line) {
  switch (f) {
    case CorpusFormat::kText:
      return trim(line).empty();
    case CorpusFormat::kWikiExtractor:
      return starts_with(line, "<doc");
    case CorpusFormat::kJsonl:
      return true;
  }
  return false;
}

}  // namespace

CorpusStream::CorpusStream(CorpusOptions opts, ShardSpec shard)
    : opts_(std::move(opts)), shard_(shard) {
  ELECTRA_CHECK_USER(shard_.world >= 1 && shard_.rank >= 0 && shard_.rank < shard_.world,
                     "invalid shard rank ", shard_.rank, " of ", shard_.world);
  ELECTRA_CHECK_USER(!opts_.files.empty(), "data.files: no corpus files were given");
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  for (const auto& f : opts_.files) {
    std::error_code ec;
    const uint64_t s = std::filesystem::file_size(f, ec);
    ELECTRA_CHECK_USER(!ec, "data.files: cannot read '", f, "': ", ec.message());
    sizes.push_back(s);
    total += s;
  }
  ELECTRA_CHECK_USER(total > 0, "data.files: the corpus is empty (", opts_.files.size(),
                     " file(s), 0 bytes). Point data.files at text files");
  uint64_t chunk = opts_.chunk_bytes;
  if (chunk == 0)
    chunk = std::clamp<uint64_t>(total / (8ull * static_cast<uint64_t>(shard_.world)), 64ull << 10,
                                 64ull << 20);
  opts_.chunk_bytes = chunk;
  for (size_t i = 0; i < sizes.size(); ++i)
    for (uint64_t b = 0; b < sizes[i]; b += chunk)
      chunks_.push_back(Chunk{i, b, std::min(sizes[i], b + chunk)});
  ELECTRA_CHECK_USER(chunks_.size() >= static_cast<size_t>(shard_.world),
                     "data.files: the corpus (", total, " bytes) splits into only ", chunks_.size(),
                     " chunk(s) of ", chunk, " bytes, fewer than the ", shard_.world,
                     " ranks. Set data.chunk_bytes smaller or use fewer ranks");
  cur_.world = shard_.world;
  epoch_chunks_ = chunks_for_epoch(0);
}

CorpusStream::CorpusStream(CorpusStream&&) noexcept = default;
CorpusStream& CorpusStream::operator=(CorpusStream&&) noexcept = default;
CorpusStream::~CorpusStream() = default;

std::vector<Chunk> CorpusStream::chunks_for_epoch(int64_t epoch) const {
  std::vector<size_t> order(chunks_.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  if (opts_.shuffle) {
    Rng rng(mix_seed({opts_.seed, static_cast<uint64_t>(epoch), 0xC0275ull}));
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[rng.uniform_int(0, static_cast<int64_t>(i) - 1)]);
  }
  std::vector<Chunk> mine;
  for (size_t i = static_cast<size_t>(shard_.rank); i < order.size();
       i += static_cast<size_t>(shard_.world))
    mine.push_back(chunks_[order[i]]);
  return mine;
}

CorpusCursor CorpusStream::cursor() const {
  CorpusCursor c = cur_;
  if (reader_) {
    if (!reader_->pending.empty()) {
      c.offset = reader_->pending_offset;
      c.sub = reader_->pending_taken;
    } else {
      c.offset = reader_->pos;
      c.sub = 0;
    }
  }
  return c;
}

void CorpusStream::seek(const CorpusCursor& c) {
  ELECTRA_CHECK_USER(c.world == shard_.world,
                     "the checkpoint's data cursor was written by a job "
                     "with ",
                     c.world, " rank(s), but this job has ", shard_.world,
                     ". Resume with the same number of ranks, or start a new output.dir");
  cur_ = c;
  epoch_chunks_ = chunks_for_epoch(cur_.epoch);
  ELECTRA_CHECK_USER(cur_.chunk <= static_cast<int64_t>(epoch_chunks_.size()),
                     "the checkpoint's data cursor does not fit this corpus (chunk ", cur_.chunk,
                     " of ", epoch_chunks_.size(), "): was data.files changed?");
  reader_.reset();
  units_this_epoch_ = 1;  // resuming mid-epoch: the epoch is known to hold text
  if (cur_.positioned && cur_.chunk < static_cast<int64_t>(epoch_chunks_.size())) {
    const Chunk& ch = epoch_chunks_[cur_.chunk];
    reader_ = std::make_unique<Reader>();
    reader_->path = opts_.files[ch.file];
    reader_->in.open(reader_->path, std::ios::binary);
    ELECTRA_CHECK_USER(reader_->in.good(), "cannot reopen corpus file '", reader_->path, "'");
    reader_->in.seekg(static_cast<std::streamoff>(c.offset));
    reader_->pos = c.offset;
    reader_->end = ch.end;
    if (c.sub > 0) {
      // Re-read the jsonl object and drop the units already delivered.
      TextLine unit;
      const int64_t skip = c.sub;
      ELECTRA_CHECK_USER(read_unit(&unit), "the checkpoint's data cursor points past the end of '",
                         reader_->path, "': was the corpus changed?");
      for (int64_t i = 1; i < skip; ++i)
        read_unit(&unit);
    }
    cur_ = c;
    cur_.positioned = true;
  }
}

bool CorpusStream::open_chunk() {
  const Chunk& ch = epoch_chunks_[cur_.chunk];
  reader_ = std::make_unique<Reader>();
  Reader& r = *reader_;
  r.path = opts_.files[ch.file];
  r.in.open(r.path, std::ios::binary);
  ELECTRA_CHECK_USER(r.in.good(), "cannot open corpus file '", r.path, "'");
  r.end = ch.end;
  cur_.positioned = true;
  cur_.next_new_doc = true;
  if (ch.begin == 0) {
    r.pos = 0;
    r.line_no = 0;
    return true;
  }
  // Move to the first line start at or after `begin`, then to the first separator there.
  r.in.seekg(static_cast<std::streamoff>(ch.begin - 1));
  r.pos = ch.begin - 1;
  std::string line;
  uint64_t start = 0;
  if (!r.getline(&line, &start)) return false;  // skip the rest of a straddling line
  while (true) {
    const std::streampos here = r.in.tellg();
    if (!r.getline(&line, &start)) return false;
    if (start >= r.end) return false;  // no separator inside this chunk: it owns no document
    if (is_separator(opts_.format, line)) {
      if (opts_.format != CorpusFormat::kText) {
        // <doc> and jsonl lines are part of the document: read them again.
        r.in.clear();
        r.in.seekg(here);
        r.pos = start;
      }
      return true;
    }
  }
}

bool CorpusStream::read_unit(TextLine* out) {
  Reader& r = *reader_;
  if (!r.pending.empty()) {
    *out = std::move(r.pending.front());
    r.pending.pop_front();
    ++r.pending_taken;
    return true;
  }
  std::string line;
  uint64_t start = 0;
  while (r.getline(&line, &start)) {
    if (start >= r.end && start > 0 && is_separator(opts_.format, line)) return false;
    size_t bad = 0;
    if (!is_valid_utf8(line, &bad))
      throw_user(r.where(start), ": the corpus text is not valid UTF-8 (bad byte at offset ",
                 start + bad, "). Convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`");
    switch (opts_.format) {
      case CorpusFormat::kText:
        if (trim(line).empty()) {
          cur_.next_new_doc = true;
          continue;
        }
        break;
      case CorpusFormat::kWikiExtractor:
        if (starts_with(line, "<doc")) {
          cur_.next_new_doc = true;
          continue;
        }
        if (starts_with(line, "</doc>") || trim(line).empty()) continue;
        break;
      case CorpusFormat::kJsonl: {
        if (trim(line).empty()) continue;
        json j;
        try {
          j = json::parse(line);
        } catch (const json::exception& e) {
          throw_user(r.where(start), ": not a JSON object (", e.what(),
                     "). data.format jsonl expects one {\"text\": ...} object per line");
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
          throw_user(r.where(start), ": the JSON object has no \"text\" string field");
        bool first = true;
        for (auto& part : split(j["text"].get<std::string>(), '\n')) {
          std::string_view t = trim(part);
          if (t.empty()) continue;
          r.pending.push_back(TextLine{std::string(t), first});
          first = false;
        }
        if (r.pending.empty()) continue;
        r.pending_offset = start;
        r.pending_taken = 1;
        *out = std::move(r.pending.front());
        r.pending.pop_front();
        cur_.next_new_doc = false;
        return true;
      }
    }
    out->text = std::string(trim(line));
    out->new_document = cur_.next_new_doc;
    cur_.next_new_doc = false;
    return true;
  }
  return false;
}

bool CorpusStream::next_in_epoch(TextLine* line) {
  while (cur_.chunk < static_cast<int64_t>(epoch_chunks_.size())) {
    if (!reader_ || !cur_.positioned) {
      if (!open_chunk()) {
        reader_.reset();
        ++cur_.chunk;
        cur_.positioned = false;
        continue;
      }
    }
    if (read_unit(line)) {
      ++cur_.units_read;
      ++units_this_epoch_;
      return true;
    }
    reader_.reset();
    ++cur_.chunk;
    cur_.positioned = false;
  }
  return false;
}

void CorpusStream::next(TextLine* line) {
  while (!next_in_epoch(line)) {
    ELECTRA_CHECK_USER(units_this_epoch_ > 0, "data.files: this rank's share of the corpus (",
                       epoch_chunks_.size(), " chunk(s) of ", opts_.files.size(),
                       " file(s)) holds no text. Check data.files and data.format (now '",
                       corpus_format_name(opts_.format), "')");
    ++cur_.epoch;
    cur_.chunk = 0;
    cur_.positioned = false;
    units_this_epoch_ = 0;
    epoch_chunks_ = chunks_for_epoch(cur_.epoch);
  }
}

}  // namespace electra::data
