// The sharding contract of CorpusStream (data/corpus.h) beyond corpus_test.cpp's text-format
// checks: for all three formats, in the first and a reshuffled later epoch, the ranks of a job
// together read every unit (line) of the corpus exactly once, each document wholly on one
// rank, for several world sizes and chunk sizes that cut documents at arbitrary bytes; and a
// rank's saved cursor (rank 1 of 3) resumes exactly, into the next epoch.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"
#include "data/corpus.h"
#include "tests/support/temp_dir.h"

namespace electra::data {
namespace {

struct Corpus {
  std::vector<std::string> files;
  std::multiset<std::string> units;  // every unit once
  size_t documents = 0;
};

// Document d has lines "d<d> u0" .. "d<d> u<k>", k varying. Unit text encodes its document.
Corpus write_corpus(const std::string& dir, CorpusFormat format) {
  Corpus c;
  int doc = 0;
  // Three files of different sizes (one empty of documents: just blank lines).
  for (int f = 0; f < 3; ++f) {
    const std::string path = dir + "/part-" + std::to_string(f) + ".txt";
    std::ofstream out(path, std::ios::binary);
    const int docs = f == 2 ? 0 : (f == 0 ? 61 : 149);
    if (f == 2) out << "\n\n\n";
    for (int i = 0; i < docs; ++i, ++doc) {
      const int lines = 1 + (doc * 7) % 6;
      std::vector<std::string> us;
      for (int k = 0; k < lines; ++k)
        us.push_back("d" + std::to_string(doc) + " u" + std::to_string(k));
      for (const auto& u : us)
        c.units.insert(u);
      ++c.documents;
      switch (format) {
        case CorpusFormat::kText:
          for (const auto& u : us)
            out << u << "\n";
          out << (doc % 5 == 0 ? "\n\n" : "\n");  // sometimes two blank lines
          break;
        case CorpusFormat::kJsonl: {
          out << "{\"text\": \"";
          for (size_t k = 0; k < us.size(); ++k)
            out << (k ? "\\n" : "") << us[k];
          out << "\"}\n";
          break;
        }
        case CorpusFormat::kWikiExtractor:
          out << "<doc id=\"" << doc << "\" url=\"x\" title=\"t\">\n";
          for (const auto& u : us)
            out << u << "\n";
          out << "</doc>\n";
          break;
      }
    }
    c.files.push_back(path);
  }
  return c;
}

std::string doc_of(const std::string& unit) {
  return unit.substr(0, unit.find(' '));
}

// Reads one epoch of rank `rank`: its units in order, checking document integrity.
std::vector<std::string> read_epoch(const CorpusOptions& o, int rank, int world, int64_t epoch) {
  CorpusStream s(o, {rank, world});
  if (epoch > 0) {  // where next() moves at the end of epoch - 1
    CorpusCursor c;
    c.epoch = epoch;
    c.world = world;
    s.seek(c);
  }
  TextLine line;
  std::vector<std::string> units;
  while (s.next_in_epoch(&line)) {
    if (!units.empty() && !line.new_document) {
      EXPECT_EQ(doc_of(line.text), doc_of(units.back())) << "a document continued on another";
    }
    units.push_back(line.text);
  }
  return units;
}

class ShardCoverage : public ::testing::TestWithParam<CorpusFormat> {};

TEST_P(ShardCoverage, EveryUnitExactlyOncePerEpochAcrossRanks) {
  const testing::TempDir dir;
  const Corpus corpus = write_corpus(dir.path(), GetParam());
  for (uint64_t chunk : {uint64_t{97}, uint64_t{1000}, uint64_t{0}}) {
    CorpusOptions o;
    o.files = corpus.files;
    o.format = GetParam();
    o.seed = 11;
    o.chunk_bytes = chunk;
    for (int world : {1, 2, 3, 5}) {
      if (chunk == 0 && world > 3) continue;  // automatic chunks: one per file, 3 files
      for (int64_t epoch : {0, 1}) {
        std::multiset<std::string> seen;
        std::set<std::string> doc_rank;  // "doc@rank"
        std::map<std::string, int> owner;
        for (int r = 0; r < world; ++r) {
          for (const auto& u : read_epoch(o, r, world, epoch)) {
            seen.insert(u);
            auto [it, fresh] = owner.emplace(doc_of(u), r);
            EXPECT_EQ(it->second, r)
                << doc_of(u) << " read by ranks " << it->second << " and " << r;
          }
        }
        EXPECT_EQ(seen, corpus.units)
            << "chunk " << chunk << ", world " << world << ", epoch " << epoch;
        EXPECT_EQ(owner.size(), corpus.documents);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, ShardCoverage,
                         ::testing::Values(CorpusFormat::kText, CorpusFormat::kJsonl,
                                           CorpusFormat::kWikiExtractor),
                         [](const auto& info) {
                           return std::string(corpus_format_name(info.param));
                         });

TEST(ShardCursor, ResumesExactlyAndRefusesAnotherWorldSize) {
  const testing::TempDir dir;
  const Corpus corpus = write_corpus(dir.path(), CorpusFormat::kJsonl);
  CorpusOptions o;
  o.files = corpus.files;
  o.format = CorpusFormat::kJsonl;
  o.seed = 5;
  o.chunk_bytes = 150;
  CorpusStream s(o, {1, 3});
  TextLine line;
  for (int i = 0; i < 37; ++i)
    s.next(&line);  // stops inside a jsonl object and a chunk
  const std::string saved = s.cursor().to_json();
  std::vector<std::string> expect;
  for (int i = 0; i < 200; ++i) {  // runs into the next epoch
    s.next(&line);
    expect.push_back(line.text);
  }
  CorpusStream resumed(o, {1, 3});
  resumed.seek(CorpusCursor::from_json(saved, "test"));
  for (int i = 0; i < 200; ++i) {
    resumed.next(&line);
    ASSERT_EQ(line.text, expect[static_cast<size_t>(i)]) << "unit " << i;
  }
  CorpusStream other_world(o, {1, 2});
  try {
    other_world.seek(CorpusCursor::from_json(saved, "test"));
    FAIL() << "a cursor of a 3-rank job was accepted by a 2-rank one";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("3 rank(s)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace electra::data
