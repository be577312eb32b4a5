// The dropout keep masks (bool, one byte each, 0 or 1) as fp32 factors, read through their
// byte values. GCC vectorised none of the loops that converted the bool itself (one scalar
// unsigned-to-float conversion per element in the LayerNorm, softmax and dropout passes); read
// as unsigned char, the same product vectorises and gives the same bits. Static functions only,
// as model/bf16_bits.h, for the files built with -ffast-math.
#pragma once

#include <stdint.h>

namespace electra::model::detail {

// keep[i] as 0.0f or 1.0f.
static inline float keep_factor(const bool* keep, int64_t i) {
  return static_cast<float>(reinterpret_cast<const unsigned char*>(keep)[i]);
}

}  // namespace electra::model::detail
