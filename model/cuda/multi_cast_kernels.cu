#include "model/cuda/multi_cast_kernels.h"

#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::Cvt;
using dev::kVec;
using dev::load_vec;
using dev::store_vec;

constexpr int kThreads = 256;
constexpr int kPerThread = 4 * kVec;               // elements a thread converts per chunk
constexpr int64_t kChunk = kThreads * kPerThread;  // 4096 elements per block

// The table and each tensor's first block: block b converts chunk b - first[t] of the tensor t
// with first[t] <= b < first[t + 1], so every block has the same amount of work (one grid for
// tensors from 768 to 23 million elements).
struct Plan {
  MultiCast a;
  int64_t first[kMultiCastMax + 1];
};

template <typename S, typename D>
__global__ void __launch_bounds__(kThreads) multi_cast_kernel(const Plan p) {
  const int64_t b = blockIdx.x;
  const int t = dev::tensor_of_block(p.first, p.a.count, b);
  const int64_t n = p.a.n[t];
  const S* src = static_cast<const S*>(p.a.src[t]);
  D* dst = static_cast<D*>(p.a.dst[t]);
  const int64_t begin = (b - p.first[t]) * kChunk;
  const int64_t end = begin + kChunk < n ? begin + kChunk : n;
  // Whole vectors, all loads before the stores (4 in flight per thread).
  float v[4][kVec];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t i = begin + (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (i + kVec <= end) load_vec(src + i, v[k]);
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t i = begin + (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (i + kVec <= end) {
      store_vec(dst + i, v[k]);
    } else {
      for (int64_t e = i; e < end; ++e)  // the tail past the last whole vector
        dst[e] = Cvt<D>::from(Cvt<S>::to(src[e]));
    }
  }
}

template <typename S, typename D>
void launch(const Plan& p, int64_t blocks, cudaStream_t stream) {
  multi_cast_kernel<S, D><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
}

}  // namespace

cudaError_t multi_cast(const MultiCast& a, cudaStream_t stream) {
  if (a.count < 0 || a.count > kMultiCastMax ||
      (a.src_elem != Elem::kFloat && a.dst_elem != Elem::kFloat))
    return cudaErrorInvalidValue;
  Plan p;
  p.a = a;
  int64_t blocks = 0;
  for (int t = 0; t < a.count; ++t) {
    if (a.n[t] < 0 || (a.n[t] > 0 && (!a.src[t] || !a.dst[t]))) return cudaErrorInvalidValue;
    p.first[t] = blocks;
    blocks += (a.n[t] + kChunk - 1) / kChunk;
  }
  p.first[a.count] = blocks;
  if (blocks == 0) return cudaSuccess;
  if (blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
  if (a.src_elem == Elem::kFloat) {
    // fp32 -> the low precision (or fp32 -> fp32, a copy).
    return dev::launch_for_elem(a.dst_elem, [&](auto* type) {
      launch<float, std::remove_pointer_t<decltype(type)>>(p, blocks, stream);
    });
  }
  return dev::launch_for_elem(a.src_elem, [&](auto* type) {
    launch<std::remove_pointer_t<decltype(type)>, float>(p, blocks, stream);
  });
}

}  // namespace electra::model::cuda
