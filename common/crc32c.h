// CRC-32C (Castagnoli), as used by TFRecord/TensorBoard event files, TF tensor bundles and
// our checkpoint manifests. Hardware (SSE4.2) path when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace electra {

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);
inline uint32_t crc32c(const void* data, size_t n) {
  return crc32c_extend(0, data, n);
}
inline uint32_t crc32c(std::string_view s) {
  return crc32c(s.data(), s.size());
}

// TFRecord / LevelDB "masked" CRC: rotate and add a constant so that a CRC of data that
// itself contains CRCs stays well distributed.
inline uint32_t crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline uint32_t crc32c_unmask(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace electra
