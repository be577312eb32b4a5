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
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [lo, hi] (inclusive); unbiased.
  int64_t uniform_int(int64_t lo, int64_t hi);

  std::string state() const;  // "a b c d" (decimal)
  void set_state(const std::string& s);

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace electra
