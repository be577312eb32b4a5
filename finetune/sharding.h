// How examples are split among the ranks of a data-parallel job.
//
// Training: each epoch has its own permutation of the training set, seeded by (seed, epoch) and
// the same on every rank. Global batch b is order[b * B, (b + 1) * B); rank r takes the
// positions j of that batch with j % world == r, so the ranks' shares are disjoint and together
// they are exactly the global batch (the last batch of an epoch may be short, and a rank's
// share may then be empty). Gradients are summed over ranks and divided by the global batch
// size, so a step is the same step whatever the world size.
//
// Evaluation: rank r scores examples r, r + world, r + 2 world, ...; the per-rank results are
// packed into one string each, all-gathered once, and put back in file order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace electra::finetune {

// A permutation of [0, n), a pure function of (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);
int64_t batches_per_epoch(int64_t n, int64_t batch_size);
// The example indices rank `rank` trains on in global batch `batch` of an epoch with `order`.
std::vector<int64_t> rank_share(const std::vector<int64_t>& order, int64_t batch_size,
                                int64_t batch, int rank, int world);
// The size of global batch `batch` (all ranks together).
int64_t global_batch_size(int64_t n, int64_t batch_size, int64_t batch);

std::vector<int64_t> eval_share(int64_t n, int rank, int world);
// Binary-safe text for Communicator::all_gather(string): base64 of little-endian float32s.
std::string pack_values(const std::vector<float>& values);
std::vector<float> unpack_values(const std::string& packed, const std::string& origin);
// Inverse of eval_share: parts[r] holds rank r's values; returns the n values in file order.
std::vector<float> merge_eval_shares(const std::vector<std::string>& parts, int64_t n);

}  // namespace electra::finetune
