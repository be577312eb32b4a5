#include "common/rng.h"

#include <sstream>

#include "common/error.h"

namespace electra {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x243F6A8885A308D3ull;
  for (uint64_t p : parts) {
    uint64_t x = h ^ p;
    h = splitmix64(x);
  }
  return h;
}

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& v : s_)
    v = splitmix64(x);
}

double Rng::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  ELECTRA_CHECK(lo <= hi, "uniform_int range [", lo, ", ", hi, "]");
  const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
  if (range == 0) return static_cast<int64_t>(next_u64());  // full 64-bit range
  // Rejection sampling removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t v;
  do
    v = next_u64();
  while (v >= limit);
  return lo + static_cast<int64_t>(v % range);
}

std::string Rng::state() const {
  std::ostringstream os;
  os << s_[0] << ' ' << s_[1] << ' ' << s_[2] << ' ' << s_[3];
  return os.str();
}

void Rng::set_state(const std::string& s) {
  std::istringstream is(s);
  std::array<uint64_t, 4> v{};
  for (auto& x : v)
    is >> x;
  ELECTRA_CHECK_USER(!is.fail(), "corrupt random-generator state '", s, "' in checkpoint");
  s_ = v;
}

}  // namespace electra
