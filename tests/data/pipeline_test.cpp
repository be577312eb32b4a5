#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "common/error.h"
#include "data/batch.h"
#include "data/packer.h"
#include "data/pipeline.h"
#include "data/tokenizer.h"
#include "tests/support/temp_dir.h"

namespace electra::data {
namespace {

using electra::testing::TempDir;

const SpecialIds kSpecial{0, 1, 2, 3, 4};  // [PAD] [UNK] [CLS] [SEP] [MASK]

std::vector<int32_t> seq(int32_t from, int n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(Packer, BuildsClsASepBSepWithSegmentIds) {
  SequencePacker p(16, kSpecial, 1);
  std::vector<Example> out;
  p.add(seq(100, 5), true, &out);
  p.add(seq(200, 5), false, &out);
  EXPECT_TRUE(out.empty());
  p.add(seq(300, 6), false, &out);  // 16 >= target 16: an example is due
  ASSERT_EQ(out.size(), 1u);
  const Example& e = out[0];
  ASSERT_EQ(e.ids.size(), 16u);
  EXPECT_EQ(e.ids[0], kSpecial.cls);
  EXPECT_LE(e.length, 16);
  // Exactly one or two [SEP]s, the last one at length-1, padding after it.
  EXPECT_EQ(e.ids[e.length - 1], kSpecial.sep);
  int seps = 0;
  for (int i = 0; i < e.length; ++i)
    seps += e.ids[i] == kSpecial.sep;
  EXPECT_TRUE(seps == 1 || seps == 2);
  for (size_t i = e.length; i < 16; ++i) {
    EXPECT_EQ(e.ids[i], kSpecial.pad);
    EXPECT_EQ(e.types[i], 0);
  }
  // Segment ids: 0 up to and including the first [SEP], 1 after it.
  int first_sep = 1;
  while (e.ids[first_sep] != kSpecial.sep)
    ++first_sep;
  for (int i = 0; i <= first_sep; ++i)
    EXPECT_EQ(e.types[i], 0);
  for (int i = first_sep + 1; i < e.length; ++i)
    EXPECT_EQ(e.types[i], 1);
  // Tokens keep their order: 100..104, 200..204, 300.. (truncated to fit).
  std::vector<int32_t> body;
  for (int i = 1; i < e.length; ++i)
    if (e.ids[i] != kSpecial.sep) body.push_back(e.ids[i]);
  EXPECT_EQ(body.front(), 100);
  EXPECT_TRUE(std::is_sorted(body.begin(), body.end()));
}

TEST(Packer, NewDocumentClosesTheExampleAndLongUnitsAreSplitNotLost) {
  SequencePacker p(32, kSpecial, 3);
  std::vector<Example> out;
  p.add(seq(10, 4), true, &out);
  p.add(seq(50, 4), true, &out);  // a new document: the first example is emitted
  ASSERT_EQ(out.size(), 1u);
  for (int32_t id : out[0].ids)
    EXPECT_TRUE(id < 50 || id > 60) << "documents mixed";
  out.clear();
  p.add(seq(1000, 200), false, &out);  // 204 buffered tokens over several examples
  EXPECT_GE(out.size(), 5u);
  int64_t kept = 0;
  for (auto& e : out)
    for (int i = 0; i < e.length; ++i)
      kept += e.ids[i] >= 1000;
  // Only the [CLS]/[SEP] room is lost, never whole stretches of the unit.
  EXPECT_GE(kept, 200 - 3 * static_cast<int64_t>(out.size()) - 16);
}

TEST(Packer, StateRestoresExactly) {
  SequencePacker a(24, kSpecial, 5);
  std::vector<Example> out_a, out_b;
  for (int i = 0; i < 7; ++i)
    a.add(seq(100 * i + 10, 3 + i % 5), i % 3 == 0, &out_a);
  SequencePacker b(24, kSpecial, 99);
  b.restore(PackerState::from_json(a.state().to_json(), "t"));
  out_a.clear();
  for (int i = 7; i < 40; ++i) {
    a.add(seq(100 * i + 10, 3 + i % 5), i % 3 == 0, &out_a);
    b.add(seq(100 * i + 10, 3 + i % 5), i % 3 == 0, &out_b);
  }
  ASSERT_EQ(out_a.size(), out_b.size());
  for (size_t i = 0; i < out_a.size(); ++i)
    EXPECT_EQ(out_a[i].ids, out_b[i].ids);
}

TEST(Masking, CountFollowsTheOfficialFormula) {
  // round(0.15 * n), at least 1, at most int((0.15 + 0.005) * L) = 19 for L = 128.
  EXPECT_EQ(num_to_mask(0, 128, 0.15), 0);
  EXPECT_EQ(num_to_mask(1, 128, 0.15), 1);
  EXPECT_EQ(num_to_mask(10, 128, 0.15), 2);  // 1.5 rounds to 2
  EXPECT_EQ(num_to_mask(100, 128, 0.15), 15);
  EXPECT_EQ(num_to_mask(126, 128, 0.15), 19);  // 18.9 -> 19 = cap
  EXPECT_EQ(num_to_mask(510, 512, 0.15), 77);  // 76.5 -> 77, under the cap of 79
  EXPECT_EQ(num_to_mask(126, 128, 0.25), 32);  // ELECTRA-Large: 31.5 -> 32, cap 32
}

Example full_example(int64_t seq_len, Rng& rng) {
  Example e;
  e.ids.assign(seq_len, kSpecial.pad);
  e.types.assign(seq_len, 0);
  const int64_t n = rng.uniform_int(seq_len / 2, seq_len);
  e.ids[0] = kSpecial.cls;
  for (int64_t i = 1; i < n - 1; ++i)
    e.ids[i] = static_cast<int32_t>(rng.uniform_int(5, 999));
  e.ids[n - 1] = kSpecial.sep;
  e.length = static_cast<int32_t>(n);
  return e;
}

TEST(Masking, StatisticsMatchThePaper) {
  Rng rng(1);
  std::vector<Example> ex;
  for (int i = 0; i < 400; ++i)
    ex.push_back(full_example(128, rng));
  Batch b = mask_examples(ex, kSpecial, MaskOptions{}, 77);
  const int64_t m = b.masked_index.numel();
  int64_t candidates = 0, mask_tokens = 0, unchanged = 0;
  for (auto& e : ex)
    candidates += e.length - 2;
  auto idx = b.masked_index.accessor<int64_t, 1>();
  auto lab = b.masked_labels.accessor<int64_t, 1>();
  const at::Tensor flat_orig = b.input_ids.view({-1}), flat_masked = b.masked_ids.view({-1});
  auto orig = flat_orig.accessor<int64_t, 1>();
  auto masked = flat_masked.accessor<int64_t, 1>();
  for (int64_t i = 0; i < m; ++i) {
    EXPECT_EQ(lab[i], orig[idx[i]]);
    EXPECT_FALSE(kSpecial.is_special(static_cast<int32_t>(lab[i]))) << "a special token was chosen";
    if (masked[idx[i]] == kSpecial.mask)
      ++mask_tokens;
    else if (masked[idx[i]] == orig[idx[i]])
      ++unchanged;
    else
      ADD_FAILURE() << "a random replacement: ELECTRA uses none";
  }
  EXPECT_NEAR(static_cast<double>(m) / candidates, 0.15, 0.005);
  EXPECT_NEAR(static_cast<double>(mask_tokens) / m, 0.85, 0.02);
  EXPECT_EQ(mask_tokens + unchanged, m);
  // Positions outside the masked set are untouched.
  EXPECT_EQ((b.masked_ids != b.input_ids).sum().item<int64_t>(), mask_tokens);
  // Deterministic in the seed; another seed masks elsewhere.
  EXPECT_TRUE(at::equal(mask_examples(ex, kSpecial, {}, 77).masked_index, b.masked_index));
  EXPECT_FALSE(at::equal(mask_examples(ex, kSpecial, {}, 78).masked_index, b.masked_index));
  // attention_mask and segment ids follow the examples.
  EXPECT_EQ(b.attention_mask.sum().item<int64_t>(), b.real_tokens);
}

// A tiny SentencePiece model trained on a synthetic corpus, shared by the tests below.
struct SpmFixture {
  TempDir dir;
  std::string corpus, model;
  SpmFixture() {
    std::string text;
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "park"};
    Rng rng(3);
    for (int d = 0; d < 60; ++d) {
      for (int s = 0; s < 4; ++s) {
        for (int w = 0; w < 8; ++w)
          text += std::string(w ? " " : "") + words[rng.uniform_int(0, 9)];
        text += " .\n";
      }
      text += "\n";
    }
    corpus = dir.write("corpus.txt", text);
    VocabTrainOptions o;
    o.inputs = {corpus};
    o.vocab_size = 40;
    model = train_sentencepiece(o, dir.file("vocab"));
  }
  // A pretraining stream over this corpus: sequences of 32, `batch` per batch.
  PipelineOptions stream_options(int64_t batch) const {
    PipelineOptions o;
    o.corpus.files = {corpus};
    o.seq_len = 32;
    o.batch_size = batch;
    return o;
  }
};

TEST(SentencePiece, TrainLoadEncodeWithFixedSpecialIds) {
  SpmFixture f;
  auto tok = load_tokenizer(f.dir.file("vocab"), "data.tokenizer");  // directory lookup
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->special().pad, 0);
  EXPECT_EQ(tok->special().unk, 1);
  EXPECT_EQ(tok->special().cls, 2);
  EXPECT_EQ(tok->special().sep, 3);
  EXPECT_EQ(tok->special().mask, 4);
  EXPECT_EQ(tok->id_to_token(4), "[MASK]");
  const auto ids = tok->encode("the cat sat on the mat .");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(tok->decode(ids), "the cat sat on the mat .");
  // [MASK] written in text stays one token.
  const auto m = tok->encode("the [MASK] sat");
  EXPECT_NE(std::find(m.begin(), m.end(), 4), m.end());
  EXPECT_EQ(tok->tokenize("cat").size(), tok->encode("cat").size());
}

TEST(SentencePiece, VeryLongLinesAreCutNotFatal) {
  // Lines over SentencePiece's 4192-byte limit once crashed the trainer when it logged its
  // warning; they are now cut at spaces (or character boundaries) before it sees them.
  TempDir t;
  std::string text;
  for (int i = 0; i < 3000; ++i)
    text += (i % 7 ? "word " : "other ");
  text += "\n";
  text += std::string(9000, 'x') + "\n\n";
  for (int i = 0; i < 200; ++i)
    text += "a short line with the words again\n";
  VocabTrainOptions o;
  o.inputs = {t.write("long.txt", text)};
  o.vocab_size = 30;
  const std::string model = train_sentencepiece(o, t.file("v"));
  auto tok = load_tokenizer(model, "t");
  EXPECT_FALSE(tok->encode("word other word").empty());
}

TEST(SentencePiece, UnreadableModelIsAUserError) {
  TempDir t;
  const auto bad = t.write("bad.model", "this is not a protobuf");
  try {
    load_tokenizer(bad, "data.tokenizer");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_tokenizer(t.file("missing.model"), "data.tokenizer"), UserError);
}

TEST(Pipeline, StateAfterEveryBatchResumesExactly) {
  SpmFixture f;
  std::shared_ptr<const Tokenizer> tok = load_tokenizer(f.model, "t");
  PipelineOptions o = f.stream_options(4);
  o.corpus.chunk_bytes = 512;
  o.seed = 11;
  PretrainStream ref(o, tok);
  std::vector<StatefulBatch> batches;
  for (int i = 0; i < 12; ++i)
    batches.push_back(ref.next());
  for (int cut : {0, 3, 7}) {
    PretrainStream resumed(o, tok);
    resumed.restore(DataState::from_json(batches[cut].state.to_json(), "t"));
    for (int i = cut + 1; i < 12; ++i) {
      StatefulBatch b = resumed.next();
      ASSERT_TRUE(at::equal(b.batch.masked_ids, batches[i].batch.masked_ids)) << cut << " " << i;
      ASSERT_TRUE(at::equal(b.batch.token_type_ids, batches[i].batch.token_type_ids));
    }
  }
}

TEST(Pipeline, RestoreRefusesTokenIdsOutsideTheVocabulary) {
  SpmFixture f;
  std::shared_ptr<const Tokenizer> tok = load_tokenizer(f.model, "t");
  const PipelineOptions o = f.stream_options(2);
  PretrainStream stream(o, tok);
  // A state with both a packer buffer and pending examples to corrupt.
  DataState good;
  for (int i = 0; i < 40 && (good.pending.empty() || good.packer.units.empty()); ++i)
    good = stream.next().state;
  ASSERT_FALSE(good.pending.empty());
  ASSERT_FALSE(good.packer.units.empty());
  PretrainStream(o, tok).restore(good);  // the untouched state is accepted

  auto message = [&](const DataState& s) -> std::string {
    try {
      PretrainStream(o, tok).restore(s);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  DataState bad = good;
  bad.pending[0].ids[1] = static_cast<int32_t>(tok->vocab_size());
  EXPECT_NE(message(bad).find("outside this tokenizer's vocabulary"), std::string::npos);
  bad = good;
  bad.packer.units[0][0] = -3;
  EXPECT_NE(message(bad).find("token id -3 in its packer buffer"), std::string::npos);
  bad = good;
  bad.pending[0].types[0] = 7;
  EXPECT_NE(message(bad).find("token type 7"), std::string::npos);
  bad = good;
  bad.pending[0].length = 33;
  EXPECT_NE(message(bad).find("length 33"), std::string::npos);
}

TEST(Pipeline, PrefetcherDeliversTheSameBatchesAndForwardsErrors) {
  SpmFixture f;
  std::shared_ptr<const Tokenizer> tok = load_tokenizer(f.model, "t");
  PipelineOptions o = f.stream_options(2);
  PretrainStream direct(o, tok);
  Prefetcher pf(std::make_unique<PretrainStream>(o, tok), 3);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(at::equal(pf.next().batch.input_ids, direct.next().batch.input_ids));
  // A corpus that turns out to hold no text fails in the producer; the consumer sees it.
  TempDir t;
  o.corpus.files = {t.write("blank.txt", "\n\n\n")};
  Prefetcher bad(std::make_unique<PretrainStream>(o, tok), 2);
  EXPECT_THROW(bad.next(), UserError);
}

}  // namespace
}  // namespace electra::data
