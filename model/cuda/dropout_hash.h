// The dropout mask of the CUDA kernels (model/cuda/add_layer_norm_kernels.cu), as a pure
// function of (seed, element index): the forward kernel draws it, the backward kernel draws it
// again instead of reading a stored mask, and host code (tests) can rebuild it. One splitmix64
// output covers four consecutive elements, 16 bits each: element i is kept when bits
// [16 * (i % 4), 16 * (i % 4) + 16) of the output for the counter seed + (i / 4 + 1) * gamma
// are at least `threshold` = round(p * 2^16), i.e. with probability 1 - p on a 2^-16 grid.
// One hash per four elements, because the hash's three 64-bit multiplies per element were a
// real part of the kernels' instructions (64-bit multiplies are several 32-bit ones on GPUs).
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define ELECTRA_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define ELECTRA_HOST_DEVICE inline
#endif

namespace electra::model::detail {

// splitmix64 (Steele, Lea, Flood 2014): the state advances by the golden gamma per draw and
// each draw goes through its output mix; here the state is the counter of a group of four.
ELECTRA_HOST_DEVICE uint64_t hash_draw(uint64_t seed, uint64_t group) {
  uint64_t z = seed + (group + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Bit e (0..3) set where element 4 * group + e is kept; threshold 0 keeps everything.
ELECTRA_HOST_DEVICE unsigned hash_keep4(uint64_t seed, uint64_t group, uint32_t threshold) {
  if (threshold == 0) return 0xFu;
  const uint64_t z = hash_draw(seed, group);
  unsigned bits = 0;
  for (int e = 0; e < 4; ++e)
    bits |= static_cast<unsigned>(((z >> (16 * e)) & 0xFFFFu) >= threshold) << e;
  return bits;
}

// Whether element i is kept.
ELECTRA_HOST_DEVICE bool hash_keep(uint64_t seed, uint64_t i, uint32_t threshold) {
  return (hash_keep4(seed, i >> 2, threshold) >> (i & 3)) & 1u;
}

// The threshold for dropout probability p (0 <= p < 1): 0 for p == 0, else at least 1.
inline uint32_t hash_threshold(double p) {
  if (p <= 0.0) return 0;
  const double t = p * 65536.0 + 0.5;
  return t < 1.0 ? 1u : (t > 65535.0 ? 65535u : static_cast<uint32_t>(t));
}

}  // namespace electra::model::detail
