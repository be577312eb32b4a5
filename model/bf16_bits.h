// bf16 as its raw bits, for the CPU kernels: the C-only files compiled with -ffast-math
// (model/attention_rows.cpp, model/norm_rows.cpp, model/gelu_rows.cpp) and model/fast_random.cpp.
// `static`: each file keeps its own copy, so no definition compiled under those flags is shared
// with other files. (c10::BFloat16's per-element conversion made such loops 3x slower.)
#pragma once

#include <stdint.h>
#include <string.h>

namespace electra::model::detail {

// bf16 -> fp32: exact, a shift.
static inline float bf16_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// fp32 -> the nearest bf16 (ties to even), as c10::BFloat16 rounds finite values.
static inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// fp32 -> the nearest bf16 -> fp32.
static inline float round_to_bf16(float f) {
  return bf16_to_float(float_to_bf16(f));
}

}  // namespace electra::model::detail
