// The dropout mask of the CUDA kernels (model/cuda/add_layer_norm_kernels.cu), as a pure
// function of (seed, element index): the forward kernel draws it, the backward kernel draws it
// again instead of reading a stored mask, and host code (tests) can rebuild it. Element i of a
// call is kept when the top 24 bits of splitmix64's output for the counter seed + i * gamma
// are at least `threshold` = round(p * 2^24), i.e. with probability 1 - p on a 2^-24 grid.
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define ELECTRA_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define ELECTRA_HOST_DEVICE inline
#endif

namespace electra::model::detail {

// splitmix64 (Steele, Lea, Flood 2014): the state advances by the golden gamma per draw and
// each draw goes through its output mix; here the state is the element's counter.
ELECTRA_HOST_DEVICE uint64_t hash_draw(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// threshold 0 keeps everything (no dropout).
ELECTRA_HOST_DEVICE bool hash_keep(uint64_t seed, uint64_t i, uint32_t threshold) {
  return static_cast<uint32_t>(hash_draw(seed, i) >> 40) >= threshold;
}

// The threshold for dropout probability p (0 <= p < 1): 0 for p == 0, else at least 1.
inline uint32_t hash_threshold(double p) {
  if (p <= 0.0) return 0;
  const double t = p * 16777216.0 + 0.5;
  return t < 1.0 ? 1u : (t > 16777215.0 ? 16777215u : static_cast<uint32_t>(t));
}

}  // namespace electra::model::detail
