// Packs tokenized units (sentences/lines) into fixed-length [CLS] A [SEP] B [SEP] examples,
// following google-research/electra's build_pretraining_dataset ExampleBuilder:
//  - units accumulate until they reach the target length, or a document ends;
//  - 10% of examples keep a single segment, the others split the units into A and B near the
//    middle (a unit that overshoots the middle goes to A half the time);
//  - 5% of the time the next target length is random in [5, seq_len] instead of seq_len.
// One deliberate difference: a unit longer than half the sequence is cut into pieces before it
// is added, so long paragraphs (WikiExtractor) are split instead of truncated and lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/rng.h"
#include "data/tokenizer.h"

namespace electra::data {

struct Example {
  std::vector<int32_t> ids;   // [seq_len], padded with [PAD]
  std::vector<int8_t> types;  // [seq_len] segment ids (0 for A and padding, 1 for B)
  int32_t length = 0;         // real tokens including [CLS]/[SEP]
};

struct PackerState {
  std::vector<std::vector<int32_t>> units;  // units of the example being built
  int64_t current_length = 0;
  int64_t target_length = 0;
  std::string rng;
  std::string to_json() const;
  static PackerState from_json(const std::string& json, const std::string& origin);
};

class SequencePacker {
 public:
  SequencePacker(int64_t seq_len, SpecialIds special, uint64_t seed);

  // Adds one unit and appends the examples it completes to `out`: `new_document` first closes
  // the example being built (documents are never mixed in an example), then the unit's tokens
  // fill examples up to their target length.
  void add(const std::vector<int32_t>& tokens, bool new_document, std::vector<Example>* out);

  PackerState state() const;
  void restore(const PackerState& s);

 private:
  Example build();
  int64_t seq_len_;
  SpecialIds special_;
  Rng rng_;
  std::vector<std::vector<int32_t>> units_;
  int64_t current_length_ = 0;
  int64_t target_length_;
};

}  // namespace electra::data
