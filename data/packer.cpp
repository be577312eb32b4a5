#include "data/packer.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_int.h"

namespace electra::data {

using nlohmann::json;

std::string PackerState::to_json() const {
  return json{{"units", units},
              {"current_length", current_length},
              {"target_length", target_length},
              {"rng", rng}}
      .dump();
}

PackerState PackerState::from_json(const std::string& text, const std::string& origin) {
  PackerState s;
  try {
    const json j = json::parse(text);
    for (const auto& u : j.at("units"))
      s.units.push_back(json_ints<int32_t>(u, origin + ": packer units"));
    s.current_length = json_int<int64_t>(j, "current_length", origin);
    s.target_length = json_int<int64_t>(j, "target_length", origin);
    s.rng = j.at("rng").get<std::string>();
  } catch (const json::exception& e) {
    throw_user(origin, ": corrupt packer state: ", e.what());
  }
  return s;
}

SequencePacker::SequencePacker(int64_t seq_len, SpecialIds special, uint64_t seed)
    : seq_len_(seq_len), special_(special), rng_(seed), target_length_(seq_len) {
  ELECTRA_CHECK_USER(seq_len >= 8, "data.seq_len must be at least 8, got ", seq_len);
}

void SequencePacker::add(const std::vector<int32_t>& tokens, bool new_document,
                         std::vector<Example>* out) {
  if (new_document && current_length_ > 0) out->push_back(build());
  // Cut over-long units so that no text is silently truncated away.
  const size_t max_unit = static_cast<size_t>(std::max<int64_t>(1, seq_len_ / 2));
  for (size_t off = 0; off < tokens.size(); off += max_unit) {
    const size_t n = std::min(max_unit, tokens.size() - off);
    units_.emplace_back(tokens.begin() + off, tokens.begin() + off + n);
    current_length_ += static_cast<int64_t>(n);
    if (current_length_ >= target_length_) out->push_back(build());
  }
}

Example SequencePacker::build() {
  // 10%: a single segment, as in classification inputs.
  const int64_t first_target = rng_.uniform() < 0.1 ? INT64_MAX : (target_length_ - 3) / 2;
  std::vector<int32_t> a, b;
  for (const auto& u : units_) {
    const int64_t la = static_cast<int64_t>(a.size());
    if (a.empty() || la + static_cast<int64_t>(u.size()) < first_target ||
        (b.empty() && la < first_target && rng_.uniform() < 0.5)) {
      a.insert(a.end(), u.begin(), u.end());
    } else {
      b.insert(b.end(), u.begin(), u.end());
    }
  }
  // Trim to the sequence length, leaving room for [CLS] and the [SEP]s.
  if (static_cast<int64_t>(a.size()) > seq_len_ - 2) a.resize(seq_len_ - 2);
  const int64_t room_b = std::max<int64_t>(0, seq_len_ - static_cast<int64_t>(a.size()) - 3);
  if (static_cast<int64_t>(b.size()) > room_b) b.resize(room_b);

  Example ex;
  ex.ids.assign(seq_len_, special_.pad);
  ex.types.assign(seq_len_, 0);
  int64_t p = 0;
  ex.ids[p++] = special_.cls;
  for (int32_t t : a)
    ex.ids[p++] = t;
  ex.ids[p++] = special_.sep;
  if (!b.empty()) {
    for (int32_t t : b) {
      ex.types[p] = 1;
      ex.ids[p++] = t;
    }
    ex.types[p] = 1;
    ex.ids[p++] = special_.sep;
  }
  ex.length = static_cast<int32_t>(p);

  units_.clear();
  current_length_ = 0;
  // 5%: a random-length example, so the model also sees short inputs.
  target_length_ = rng_.uniform() < 0.05 ? rng_.uniform_int(5, seq_len_) : seq_len_;
  return ex;
}

PackerState SequencePacker::state() const {
  return PackerState{units_, current_length_, target_length_, rng_.state()};
}

void SequencePacker::restore(const PackerState& s) {
  units_ = s.units;
  current_length_ = s.current_length;
  target_length_ = s.target_length;
  rng_.set_state(s.rng);
}

}  // namespace electra::data
