// Test helpers: a whitespace tokenizer over a fixed vocabulary, and an easy synthetic task in the
// GLUE layout: a sentence of random filler words, labelled 1 when it contains the word "marker".
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/rng.h"
#include "common/strings.h"
#include "data/tokenizer.h"
#include "model/electra_config.h"

namespace electra::testing {

class WordTokenizer : public data::Tokenizer {
 public:
  explicit WordTokenizer(int n_words) {
    for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "marker"})
      add(s);
    for (int i = 0; i < n_words; ++i)
      add("w" + std::to_string(i));
  }
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> out;
    for (const auto& w : tokenize(text))
      out.push_back(token_to_id(w) < 0 ? 1 : token_to_id(w));
    return out;
  }
  std::vector<std::string> tokenize(std::string_view text) const override {
    std::vector<std::string> out;
    for (const auto& w : split(text, ' '))
      if (!w.empty()) out.push_back(w);
    return out;
  }
  std::string id_to_token(int32_t id) const override { return words_.at(id); }
  int32_t token_to_id(const std::string& t) const override {
    auto it = ids_.find(t);
    return it == ids_.end() ? -1 : it->second;
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(words_.size()); }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<std::string> w;
    for (auto i : ids)
      w.push_back(id_to_token(i));
    return join(w, " ");
  }
  std::string kind() const override { return "test-words"; }
  std::vector<std::string> files() const override { return {}; }
  std::string canonical_name() const override { return "words.txt"; }

 private:
  void add(const std::string& w) {
    ids_[w] = static_cast<int32_t>(words_.size());
    words_.push_back(w);
  }
  std::vector<std::string> words_;
  std::map<std::string, int32_t> ids_;
};

// An ELECTRA small enough for unit tests: hidden 16 in 2 heads, feed-forward 32, no dropout.
inline model::ElectraConfig tiny_electra(int64_t vocab, int64_t layers) {
  model::ElectraConfig c;
  c.vocab_size = vocab;
  c.embedding_size = c.hidden_size = 16;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 32;
  c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0;
  return c;
}

// Sentences of 4-9 filler words; half of them (at random) get "marker" at a random position.
// Returns "sentence\tlabel" rows; `score` writes 5.0 / 0.0 (a regression target) instead.
inline std::vector<std::pair<std::string, int>> marker_rows(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::pair<std::string, int>> rows;
  for (int i = 0; i < n; ++i) {
    const int len = static_cast<int>(rng.uniform_int(4, 9));
    std::vector<std::string> w;
    for (int k = 0; k < len; ++k)
      w.push_back("w" + std::to_string(rng.uniform_int(0, 29)));
    const int label = rng.uniform() < 0.5 ? 1 : 0;
    if (label) w.insert(w.begin() + rng.uniform_int(0, len), "marker");
    rows.emplace_back(join(w, " "), label);
  }
  return rows;
}

// A temporary GLUE root with SST-2/{train,dev,test}.tsv of the marker task.
class MarkerTask {
 public:
  MarkerTask(int n_train, int n_dev, const std::string& tag) {
    root_ = std::filesystem::temp_directory_path() /
            ("electra_ft_" + tag + "_" + std::to_string(::getpid()));
    ::electra::fs::remove_all(root_);
    std::filesystem::create_directories(root_ / "SST-2");
    auto write = [&](const std::string& name, int n, uint64_t seed, bool test) {
      std::ofstream f(root_ / "SST-2" / name);
      f << (test ? "index\tsentence\n" : "sentence\tlabel\n");
      int i = 0;
      for (const auto& [s, label] : marker_rows(n, seed)) {
        if (test) {
          f << i++ << '\t' << s << '\n';
        } else {
          f << s << '\t' << label << '\n';
        }
      }
    };
    write("train.tsv", n_train, 1, false);
    write("dev.tsv", n_dev, 2, false);
    write("test.tsv", 10, 3, true);
  }
  ~MarkerTask() { ::electra::fs::remove_all(root_); }
  std::string root() const { return root_.string(); }
  std::string out(const std::string& name) const { return (root_ / name).string(); }

 private:
  std::filesystem::path root_;
};

}  // namespace electra::testing
