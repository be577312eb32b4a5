// Fuzzes the streaming corpus readers (data/corpus.cpp): plain text, WikiExtractor <doc>
// blocks and JSON lines, with small chunk sizes so that documents straddle chunk boundaries.
// The first byte picks the format, the chunk size and the world size; every rank's shard of
// one epoch is read, and the units read must not depend on how the file was cut.
#include <algorithm>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::vector<std::string> read_all(const electra::data::CorpusOptions& opts, int world) {
  std::vector<std::string> units;
  for (int rank = 0; rank < world; ++rank) {
    electra::data::CorpusStream s(opts, {rank, world});
    electra::data::TextLine line;
    while (s.next_in_epoch(&line) && units.size() < 100000)
      units.push_back(line.text);
  }
  std::sort(units.begin(), units.end());
  return units;
}

}  // namespace

ELECTRA_FUZZ_ENTRY {
  using namespace electra::data;
  const uint8_t sel = electra::fuzz::take_selector(&bytes);
  const CorpusFormat formats[] = {CorpusFormat::kText, CorpusFormat::kWikiExtractor,
                                  CorpusFormat::kJsonl};
  CorpusOptions opts;
  opts.format = formats[sel % 3];
  opts.files = {electra::fuzz::Scratch::get().write("corpus.txt", bytes)};
  opts.shuffle = false;
  const auto whole = read_all(opts, 1);
  opts.chunk_bytes = 1 + (sel >> 2) % 48;
  opts.shuffle = sel & 2;
  const auto cut = read_all(opts, 1 + (sel >> 7));
  if (whole != cut) abort();  // every unit exactly once, however the file is chunked
}
