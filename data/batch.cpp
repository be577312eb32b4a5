#include "data/batch.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/error.h"
#include "common/rng.h"

namespace electra::data {

int64_t num_to_mask(int64_t candidates, int64_t seq_len, double mask_prob) {
  if (candidates <= 0) return 0;
  const int64_t cap = static_cast<int64_t>((mask_prob + 0.005) * static_cast<double>(seq_len));
  const int64_t want = std::llround(mask_prob * static_cast<double>(candidates));
  return std::min({std::max<int64_t>(1, std::min(cap, want)), candidates});
}

Batch mask_examples(const std::vector<Example>& examples, const SpecialIds& special,
                    const MaskOptions& options, uint64_t seed) {
  ELECTRA_CHECK(!examples.empty(), "empty batch");
  const int64_t b = static_cast<int64_t>(examples.size());
  const int64_t l = static_cast<int64_t>(examples[0].ids.size());
  Batch out;
  out.input_ids = at::empty({b, l}, at::kLong);
  out.attention_mask = at::zeros({b, l}, at::kLong);
  out.token_type_ids = at::empty({b, l}, at::kLong);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto am = out.attention_mask.accessor<int64_t, 2>();
  auto tt = out.token_type_ids.accessor<int64_t, 2>();
  std::vector<int64_t> index, labels;
  out.masked_ids = at::empty({b, l}, at::kLong);
  auto mids = out.masked_ids.accessor<int64_t, 2>();

  Rng rng(seed);
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < b; ++i) {
    const Example& ex = examples[i];
    ELECTRA_CHECK(static_cast<int64_t>(ex.ids.size()) == l, "ragged batch");
    cand.clear();
    for (int64_t p = 0; p < l; ++p) {
      ids[i][p] = ex.ids[p];
      mids[i][p] = ex.ids[p];
      tt[i][p] = ex.types[p];
      am[i][p] = p < ex.length ? 1 : 0;
      if (p < ex.length && !(ex.ids[p] == special.pad || ex.ids[p] == special.cls ||
                             ex.ids[p] == special.sep || ex.ids[p] == special.mask))
        cand.push_back(p);
    }
    out.real_tokens += ex.length;
    const int64_t n = num_to_mask(static_cast<int64_t>(cand.size()), l, options.mask_prob);
    // Partial Fisher-Yates: the first n entries become a uniform sample without replacement.
    for (int64_t k = 0; k < n; ++k) {
      const int64_t j = rng.uniform_int(k, static_cast<int64_t>(cand.size()) - 1);
      std::swap(cand[k], cand[j]);
    }
    std::sort(cand.begin(), cand.begin() + n);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t p = cand[k];
      index.push_back(i * l + p);
      labels.push_back(ex.ids[p]);
      if (rng.uniform() < options.mask_token_prob) mids[i][p] = special.mask;
    }
  }
  out.masked_index = at::tensor(index, at::kLong);
  out.masked_labels = at::tensor(labels, at::kLong);
  return out;
}

}  // namespace electra::data
