#include "finetune/features.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/error.h"

namespace electra::finetune {

void truncate_pair(std::vector<int32_t>& a, std::vector<int32_t>& b, size_t max_tokens) {
  // One token at a time from the longer side: a short sentence keeps its few, informative
  // tokens (google-research/bert _truncate_seq_pair).
  while (a.size() + b.size() > max_tokens) {
    if (a.size() > b.size()) {
      a.pop_back();
    } else {
      b.pop_back();
    }
  }
}

std::vector<Feature> encode_examples(const std::vector<TextExample>& examples,
                                     const data::Tokenizer& tok, int64_t max_len,
                                     EncodeStats* stats) {
  ELECTRA_CHECK(max_len >= 5, "max_len too small");
  const auto& sp = tok.special();
  std::vector<Feature> out;
  out.reserve(examples.size());
  EncodeStats st;
  for (const auto& ex : examples) {
    std::vector<int32_t> a = tok.encode(ex.text_a);
    std::vector<int32_t> b;
    const bool pair = !ex.text_b.empty();
    if (pair) b = tok.encode(ex.text_b);
    const size_t before = a.size() + b.size();
    if (pair) {
      truncate_pair(a, b, static_cast<size_t>(max_len - 3));
    } else if (a.size() > static_cast<size_t>(max_len - 2)) {
      a.resize(static_cast<size_t>(max_len - 2));
    }
    if (a.size() + b.size() < before) ++st.truncated;
    Feature f;
    f.ids.reserve(a.size() + b.size() + 3);
    f.ids.push_back(sp.cls);
    f.ids.insert(f.ids.end(), a.begin(), a.end());
    f.ids.push_back(sp.sep);
    f.types.assign(f.ids.size(), 0);
    if (pair) {
      f.ids.insert(f.ids.end(), b.begin(), b.end());
      f.ids.push_back(sp.sep);
      f.types.resize(f.ids.size(), 1);
    }
    f.label = ex.label;
    f.target = ex.target;
    st.tokens += static_cast<int64_t>(f.ids.size());
    out.push_back(std::move(f));
  }
  if (stats) *stats = st;
  return out;
}

FeatureBatch collate(const std::vector<Feature>& features, const std::vector<int64_t>& indices,
                     int32_t pad_id) {
  FeatureBatch b;
  const int64_t n = static_cast<int64_t>(indices.size());
  if (n == 0) return b;
  size_t seq = 0;
  for (int64_t i : indices)
    seq = std::max(seq, features[static_cast<size_t>(i)].ids.size());
  const int64_t s = static_cast<int64_t>(seq);
  b.input_ids = at::full({n, s}, static_cast<int64_t>(pad_id), at::kLong);  // [batch, seq]
  b.attention_mask = at::zeros({n, s}, at::kLong);
  b.token_type_ids = at::zeros({n, s}, at::kLong);
  b.labels = at::empty({n}, at::kLong);
  b.targets = at::empty({n}, at::kFloat);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  auto types = b.token_type_ids.accessor<int64_t, 2>();
  auto labels = b.labels.accessor<int64_t, 1>();
  auto targets = b.targets.accessor<float, 1>();
  for (int64_t r = 0; r < n; ++r) {
    const Feature& f = features[static_cast<size_t>(indices[static_cast<size_t>(r)])];
    for (size_t j = 0; j < f.ids.size(); ++j) {
      ids[r][j] = f.ids[j];
      mask[r][j] = 1;
      types[r][j] = f.types[j];
    }
    labels[r] = f.label;
    targets[r] = f.target;
    b.padded = b.padded || f.ids.size() < seq;
  }
  return b;
}

FeatureBatch batch_to(const FeatureBatch& b, const at::Device& device) {
  FeatureBatch out = b;
  for (at::Tensor* t :
       {&out.input_ids, &out.attention_mask, &out.token_type_ids, &out.labels, &out.targets})
    if (t->defined()) *t = t->to(device);
  return out;
}

}  // namespace electra::finetune
