#include "model/cuda/gumbel_kernels.h"

#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/dropout_hash.h"
#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::Cvt;
using dev::keep_better;

constexpr int kThreads = 512;  // one block per row

template <typename T>
__global__ void __launch_bounds__(kThreads) gumbel_argmax_kernel(GumbelArgmax a) {
  __shared__ float best_s[kThreads / 32];
  __shared__ int64_t best_i[kThreads / 32];
  const int64_t row = blockIdx.x;
  const T* l = static_cast<const T*>(a.logits) + row * (a.ld > 0 ? a.ld : a.vocab);
  const uint64_t seed = static_cast<uint64_t>(*a.seed_at);
  const uint64_t first = static_cast<uint64_t>(row * a.vocab);
  float s = -INFINITY;
  int64_t idx = a.vocab;  // past the row: loses every tie
  for (int64_t j = threadIdx.x; j < a.vocab; j += kThreads) {
    const uint64_t h = detail::hash_draw(seed, first + static_cast<uint64_t>(j));
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1), 2^-24 grid
    const float g = -logf(-logf(u + 1e-9f) + 1e-9f);
    const float v = Cvt<T>::to(l[j]) / a.temperature + g;
    keep_better(s, idx, v, j);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
    const int64_t i2 = __shfl_xor_sync(0xffffffffu, idx, o);
    keep_better(s, idx, s2, i2);
  }
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) {
    best_s[warp] = s;
    best_i[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w)
      keep_better(s, idx, best_s[w], best_i[w]);
    // A row of NaN or -inf scores only: the first token, as ATen's argmax of equal values.
    a.out[row] = idx < a.vocab ? idx : 0;
  }
}

}  // namespace

cudaError_t gumbel_argmax(const GumbelArgmax& a, cudaStream_t stream) {
  if (a.rows < 0 || a.vocab <= 0 || !(a.temperature > 0.0f) || !a.seed_at || !a.out ||
      a.rows > 0x7FFFFFFF || (a.ld > 0 && a.ld < a.vocab))
    return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  const auto blocks = static_cast<unsigned>(a.rows);
  return dev::launch_for_elem(a.elem, [&](auto* type) {
    gumbel_argmax_kernel<std::remove_pointer_t<decltype(type)>><<<blocks, kThreads, 0, stream>>>(a);
  });
}

}  // namespace electra::model::cuda
