#include "finetune/sharding.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "common/error.h"
#include "common/rng.h"
#include "common/strings.h"

namespace electra::finetune {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  // The epoch is folded into the seed: a new order every epoch, the same on every rank.
  Rng rng(mix_seed({seed, static_cast<uint64_t>(epoch), 0xF17Eull}));
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[rng.uniform_int(0, i)]);
  return order;
}

int64_t batches_per_epoch(int64_t n, int64_t batch_size) {
  return (n + batch_size - 1) / batch_size;
}

int64_t global_batch_size(int64_t n, int64_t batch_size, int64_t batch) {
  return std::max<int64_t>(0, std::min(batch_size, n - batch * batch_size));
}

std::vector<int64_t> rank_share(const std::vector<int64_t>& order, int64_t batch_size,
                                int64_t batch, int rank, int world) {
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t begin = batch * batch_size, end = std::min(n, begin + batch_size);
  std::vector<int64_t> out;
  for (int64_t j = begin + rank; j < end; j += world)
    out.push_back(order[j]);
  return out;
}

std::vector<int64_t> eval_share(int64_t n, int rank, int world) {
  std::vector<int64_t> out;
  for (int64_t i = rank; i < n; i += world)
    out.push_back(i);
  return out;
}

std::string pack_values(const std::vector<float>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  // Little-endian on every platform we build for (x86-64, aarch64).
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return base64_encode(bytes);
}

std::vector<float> unpack_values(const std::string& packed, const std::string& origin) {
  const std::string bytes = base64_decode(packed, origin);
  ELECTRA_CHECK(bytes.size() % sizeof(float) == 0, origin, ": packed values of odd size");
  std::vector<float> out(bytes.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<float> merge_eval_shares(const std::vector<std::string>& parts, int64_t n) {
  const int world = static_cast<int>(parts.size());
  std::vector<float> out(static_cast<size_t>(n));
  for (int r = 0; r < world; ++r) {
    const std::vector<float> v = unpack_values(parts[r], cat("evaluation results of rank ", r));
    const auto idx = eval_share(n, r, world);
    ELECTRA_CHECK(v.size() == idx.size(), "rank ", r, " returned ", v.size(),
                  " evaluation results, expected ", idx.size());
    for (size_t k = 0; k < idx.size(); ++k)
      out[static_cast<size_t>(idx[k])] = v[k];
  }
  return out;
}

}  // namespace electra::finetune
