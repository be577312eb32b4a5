// A small real pretraining setup for tests: a synthetic corpus with structure (so that the
// losses can fall in a few dozen steps), a SentencePiece vocabulary trained on it, and a
// tiny model config.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "data/tokenizer.h"
#include "pretrain/pretrain_config.h"
#include "tests/support/temp_dir.h"

namespace electra::testing {

inline std::string synthetic_corpus(int docs, uint64_t seed) {
  // Sentences from a tiny grammar: subject verb object, with agreement the model can learn.
  const char* subj[] = {"the cat", "a dog", "my friend", "the old man", "a small bird"};
  const char* verb[] = {"sees", "likes", "finds", "follows", "hears"};
  const char* obj[] = {"the ball", "a red apple", "the river", "some bread", "the green tree"};
  Rng rng(seed);
  std::string text;
  for (int d = 0; d < docs; ++d) {
    const int n = static_cast<int>(rng.uniform_int(3, 8));
    for (int s = 0; s < n; ++s) {
      text += subj[rng.uniform_int(0, 4)];
      text += " ";
      text += verb[rng.uniform_int(0, 4)];
      text += " ";
      text += obj[rng.uniform_int(0, 4)];
      text += " .\n";
    }
    text += "\n";
  }
  return text;
}

struct PretrainFixture {
  TempDir dir;
  std::string corpus, tokenizer, output;

  explicit PretrainFixture(int docs = 200) {
    corpus = dir.write("corpus/a.txt", synthetic_corpus(docs, 1));
    dir.write("corpus/b.txt", synthetic_corpus(docs / 2, 2));
    data::VocabTrainOptions o;
    o.inputs = {dir.file("corpus")};
    o.vocab_size = 60;
    tokenizer = data::train_sentencepiece(o, dir.file("vocab"));
    output = dir.file("run");
  }

  // --set overrides for a tiny, fast, deterministic experiment.
  std::vector<std::string> overrides(const std::string& out, int steps) const {
    return {"data.files=[" + dir.file("corpus") + "]",
            "data.tokenizer=" + tokenizer,
            "data.seq_len=32",
            "model.embedding_size=16",
            "model.hidden_size=32",
            "model.num_hidden_layers=2",
            "model.num_attention_heads=2",
            "model.intermediate_size=64",
            "model.max_position_embeddings=32",
            "generator.size_fraction=0.5",
            "train.batch_size=8",
            "train.steps=" + std::to_string(steps),
            "train.log_every=5",
            "train.save_every=10",
            "train.threads=1",
            "optimizer.lr=2e-3",
            "optimizer.warmup_steps=5",
            "output.tensorboard=true",
            "output.dir=" + out};
  }

  Config config(const std::string& out, int steps,
                const std::vector<std::string>& extra = {}) const {
    auto o = overrides(out, steps);
    o.insert(o.end(), extra.begin(), extra.end());
    return Config::resolve(pretrain::pretrain_schema(), "", o);
  }
};

}  // namespace electra::testing
