// A small, portable, serialisable random generator (xoshiro256**), for the data pipeline.
// Unlike std::mt19937 + std distributions its outputs are the same on every platform and
// standard library, and its whole state is four integers that fit in a checkpoint.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace electra {

// Mixes any number of integers into one 64-bit seed (splitmix64 finaliser chain).
uint64_t mix_seed(std::initializer_list<uint64_t> parts);

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  // Inline: the dropout masks and uniform fills (model/fast_random.cpp) draw one per two
  // elements, and the out-of-line call (its state back in memory each time) measured ~2% of a
  // bf16 training step.
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [lo, hi] (inclusive); unbiased.
  int64_t uniform_int(int64_t lo, int64_t hi);

  std::string state() const;  // "a b c d" (decimal)
  // The four state words, for code that runs several streams side by side in vector lanes
  // (model/fast_random.cpp) and must start each where an Rng starts.
  const std::array<uint64_t, 4>& words() const { return s_; }
  void set_state(const std::string& s);

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
};

}  // namespace electra
