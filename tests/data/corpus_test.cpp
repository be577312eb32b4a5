#include "data/corpus.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/error.h"
#include "tests/support/temp_dir.h"

namespace electra::data {
namespace {

using electra::testing::TempDir;

std::vector<TextLine> read_epoch(CorpusStream& s) {
  std::vector<TextLine> out;
  TextLine l;
  while (s.next_in_epoch(&l))
    out.push_back(l);
  return out;
}

CorpusOptions opts(std::vector<std::string> files, CorpusFormat f, uint64_t chunk = 0,
                   bool shuffle = false) {
  CorpusOptions o;
  o.files = std::move(files);
  o.format = f;
  o.chunk_bytes = chunk;
  o.shuffle = shuffle;
  return o;
}

TEST(Corpus, TextDocumentsAreSeparatedByBlankLines) {
  TempDir t;
  const auto f = t.write("a.txt", "First doc line one.\nline two\n\n\nSecond doc.\r\n  \nThird\n");
  CorpusStream s(opts({f}, CorpusFormat::kText), {});
  const auto lines = read_epoch(s);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].text, "First doc line one.");
  EXPECT_TRUE(lines[0].new_document);
  EXPECT_FALSE(lines[1].new_document);
  EXPECT_EQ(lines[2].text, "Second doc.");  // \r stripped
  EXPECT_TRUE(lines[2].new_document);
  EXPECT_TRUE(lines[3].new_document);
}

TEST(Corpus, WikiExtractorAndJsonl) {
  TempDir t;
  const auto w = t.write("wiki",
                         "<doc id=\"1\" title=\"A\">\nA\n\nPara one.\nPara two.\n</doc>\n"
                         "<doc id=\"2\" title=\"B\">\nB\nOnly para.\n</doc>\n");
  CorpusStream ws(opts({w}, CorpusFormat::kWikiExtractor), {});
  const auto wl = read_epoch(ws);
  ASSERT_EQ(wl.size(), 5u);
  EXPECT_EQ(wl[0].text, "A");
  EXPECT_TRUE(wl[0].new_document);
  EXPECT_EQ(wl[2].text, "Para two.");
  EXPECT_EQ(wl[3].text, "B");
  EXPECT_TRUE(wl[3].new_document);

  const auto j =
      t.write("c.jsonl", "{\"text\": \"one\\ntwo\"}\n\n{\"text\": \"three\", \"id\": 3}\n");
  CorpusStream js(opts({j}, CorpusFormat::kJsonl), {});
  const auto jl = read_epoch(js);
  ASSERT_EQ(jl.size(), 3u);
  EXPECT_TRUE(jl[0].new_document);
  EXPECT_FALSE(jl[1].new_document);
  EXPECT_EQ(jl[2].text, "three");
  EXPECT_TRUE(jl[2].new_document);

  const auto bad = t.write("bad.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n");
  CorpusStream bs(opts({bad}, CorpusFormat::kJsonl), {});
  try {
    read_epoch(bs);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":2"), std::string::npos) << e.what();
  }
}

TEST(Corpus, InvalidUtf8NamesFileAndLine) {
  TempDir t;
  const auto f = t.write("latin1.txt", "fine\ncaf\xe9 au lait\n");
  CorpusStream s(opts({f}, CorpusFormat::kText), {});
  try {
    read_epoch(s);
    FAIL();
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(f + ":2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("UTF-8"), std::string::npos) << msg;
  }
}

TEST(Corpus, EmptyCorpusIsAnError) {
  TempDir t;
  const auto f = t.write("empty.txt", "");
  EXPECT_THROW(CorpusStream(opts({f}, CorpusFormat::kText), {}), UserError);
  const auto blank = t.write("blank.txt", "\n\n   \n\n");
  CorpusStream s(opts({blank}, CorpusFormat::kText), {});
  TextLine l;
  EXPECT_THROW(s.next(&l), UserError);
}

// Documents "d<i>" with a few lines each, in several files, sharded in small chunks.
std::vector<std::string> make_corpus(const TempDir& t, int files, int docs_per_file) {
  std::vector<std::string> out;
  int id = 0;
  for (int f = 0; f < files; ++f) {
    std::string text;
    for (int d = 0; d < docs_per_file; ++d, ++id) {
      text += "doc" + std::to_string(id) + " first line\n";
      for (int k = 0; k < id % 3; ++k)
        text += "doc" + std::to_string(id) + " more\n";
      text += "\n";
    }
    out.push_back(t.write("c" + std::to_string(f) + ".txt", text));
  }
  return out;
}

std::string doc_of(const std::string& line) {
  return line.substr(0, line.find(' '));
}

TEST(Corpus, ShardsCoverEveryDocumentExactlyOncePerEpoch) {
  TempDir t;
  const auto files = make_corpus(t, 3, 40);  // 120 documents
  for (int world : {1, 2, 3, 5}) {
    for (uint64_t chunk : {64ull, 200ull, 100000ull}) {
      std::map<std::string, int> seen;
      bool chunks_ok = true;
      for (int rank = 0; rank < world; ++rank) {
        CorpusOptions o = opts(files, CorpusFormat::kText, chunk, /*shuffle=*/true);
        o.seed = 9;
        std::unique_ptr<CorpusStream> s;
        try {
          s = std::make_unique<CorpusStream>(o, ShardSpec{rank, world});
        } catch (const UserError&) {
          chunks_ok = false;  // fewer chunks than ranks is refused, clearly
          break;
        }
        std::string prev;
        for (const auto& l : read_epoch(*s)) {
          if (l.new_document) ++seen[doc_of(l.text)];
          // A document's lines are never split across shards.
          if (!l.new_document) EXPECT_EQ(doc_of(l.text), prev);
          prev = doc_of(l.text);
        }
      }
      if (!chunks_ok) continue;
      EXPECT_EQ(seen.size(), 120u) << "world " << world << " chunk " << chunk;
      for (auto& [doc, n] : seen)
        EXPECT_EQ(n, 1) << doc << " world " << world << " chunk " << chunk;
    }
  }
}

TEST(Corpus, OrderDependsOnSeedAndEpochButIsDeterministic) {
  TempDir t;
  const auto files = make_corpus(t, 4, 10);
  CorpusOptions o = opts(files, CorpusFormat::kText, 100, true);
  o.seed = 1;
  CorpusStream a(o, {}), b(o, {});
  EXPECT_EQ(a.chunks_for_epoch(0).size(), b.chunks_for_epoch(0).size());
  auto order = [](const std::vector<Chunk>& c) {
    std::vector<std::pair<size_t, uint64_t>> v;
    for (auto& x : c)
      v.emplace_back(x.file, x.begin);
    return v;
  };
  EXPECT_EQ(order(a.chunks_for_epoch(0)), order(b.chunks_for_epoch(0)));
  EXPECT_NE(order(a.chunks_for_epoch(0)), order(a.chunks_for_epoch(1)));
  o.seed = 2;
  CorpusStream c(o, {});
  EXPECT_NE(order(a.chunks_for_epoch(0)), order(c.chunks_for_epoch(0)));
}

TEST(Corpus, CursorResumesExactlyMidDocumentAndAcrossEpochs) {
  TempDir t;
  for (CorpusFormat fmt : {CorpusFormat::kText, CorpusFormat::kJsonl}) {
    std::vector<std::string> files;
    if (fmt == CorpusFormat::kText) {
      files = make_corpus(t, 2, 7);
    } else {
      files.push_back(t.write("j.jsonl",
                              "{\"text\": \"a1\\na2\\na3\"}\n{\"text\": \"b1\"}\n"
                              "{\"text\": \"c1\\nc2\"}\n"));
    }
    CorpusOptions o = opts(files, fmt, 60, true);
    CorpusStream ref(o, {});
    std::vector<TextLine> expected;
    TextLine l;
    for (int i = 0; i < 50; ++i) {
      ref.next(&l);
      expected.push_back(l);
    }
    for (int cut : {1, 2, 5, 13, 31}) {
      CorpusStream first(o, {});
      for (int i = 0; i < cut; ++i)
        first.next(&l);
      const CorpusCursor cur = CorpusCursor::from_json(first.cursor().to_json(), "t");
      CorpusStream second(o, {});
      second.seek(cur);
      for (int i = cut; i < 50; ++i) {
        second.next(&l);
        ASSERT_EQ(l.text, expected[i].text) << "cut " << cut << " at " << i;
        ASSERT_EQ(l.new_document, expected[i].new_document) << "cut " << cut << " at " << i;
      }
    }
  }
}

TEST(Corpus, CursorFromAnotherWorldSizeIsRefused) {
  TempDir t;
  const auto files = make_corpus(t, 2, 10);
  CorpusStream one(opts(files, CorpusFormat::kText, 100), {0, 1});
  CorpusStream two(opts(files, CorpusFormat::kText, 100), {0, 2});
  EXPECT_THROW(two.seek(one.cursor()), UserError);
}

}  // namespace
}  // namespace electra::data
