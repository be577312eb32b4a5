#include "model/cuda/mlm_loss_kernels.h"

#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::Cvt;
using dev::keep_better;
using dev::kVec;

constexpr int kThreads = 256;  // one block per row
constexpr int kWarps = kThreads / 32;

// Whether the row's vector accesses are aligned: 4-element vectors from the row's start.
template <typename T>
__device__ __forceinline__ bool rows_aligned(const T* base, int64_t ld) {
  return ld % kVec == 0 && reinterpret_cast<uintptr_t>(base) % (sizeof(T) * kVec) == 0;
}

// The block's largest value and its first index, in every thread.
__device__ void block_max(float& v, int64_t& i) {
  __shared__ float vs[kWarps];
  __shared__ int64_t is[kWarps];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    keep_better(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) {
    vs[warp] = v;
    is[warp] = i;
  }
  __syncthreads();
  v = vs[0];
  i = is[0];
  for (int w = 1; w < kWarps; ++w)
    keep_better(v, i, vs[w], is[w]);
  __syncthreads();  // vs and is may be written again by the caller's next reduction
}

// The block's sum, in every thread, added in warp order.
__device__ float block_sum(float v) {
  __shared__ float s[kWarps];
  v = dev::warp_sum(v);
  if ((threadIdx.x & 31) == 0) s[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kWarps; ++w)
    total += s[w];
  __syncthreads();
  return total;
}

// Vectors a thread loads before it uses any: one load in flight per thread would leave the
// memory system idle between a warp's loads (as the PTX of our first kernels showed).
constexpr int kBatch = 4;

// f(k, v) for every 4-element vector k of an aligned row, v widened to fp32, kBatch of them
// loaded at a time, each thread's k increasing. Returns the first element after the vectors.
template <typename T, typename F>
__device__ __forceinline__ int64_t for_vectors(const T* x, int64_t vocab, F&& f) {
  const int64_t vectors = vocab / kVec;
  for (int64_t k0 = threadIdx.x; k0 < vectors; k0 += kThreads * kBatch) {
    dev::Vec<T> raw[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t k = k0 + b * kThreads;
      if (k < vectors) raw[b] = dev::load_raw(x + k * kVec);
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t k = k0 + b * kThreads;
      if (k >= vectors) break;
      float v[kVec];
      dev::widen(raw[b], v);
      f(k, v);
    }
  }
  return vectors * kVec;
}

// f(j, x) for every element of the row, x widened to fp32, each thread's j increasing: by
// for_vectors where the row is aligned, one element at a time for the rest (and for a row that
// is not).
template <typename T, typename F>
__device__ __forceinline__ void for_row(const T* x, int64_t vocab, bool aligned, F&& f) {
  const int64_t j0 = !aligned ? 0 : for_vectors(x, vocab, [&](int64_t k, float(&v)[kVec]) {
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      f(k * kVec + e, v[e]);
  });
  for (int64_t j = j0 + threadIdx.x; j < vocab; j += kThreads)
    f(j, Cvt<T>::to(x[j]));
}

template <typename T>
__global__ void __launch_bounds__(kThreads) forward_kernel(MlmLossForward a) {
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(a.logits) + row * a.ld;
  const bool aligned = rows_aligned(static_cast<const T*>(a.logits), a.ld);
  // Pass 1: the largest value and its first index. A thread's elements come in increasing j,
  // so a strict > keeps its first.
  float m = -INFINITY;
  int64_t at = a.vocab;
  for_row(x, a.vocab, aligned, [&](int64_t j, float v) {
    if (v > m) {
      m = v;
      at = j;
    }
  });
  block_max(m, at);
  // Pass 2 (the row is in L2 by now): sum exp(x - m), as log_softmax does.
  float s = 0.0f;
  for_row(x, a.vocab, aligned, [&](int64_t, float v) { s += expf(v - m); });
  s = block_sum(s);
  if (threadIdx.x == 0) {
    const float lse = m + logf(s);
    const int64_t y = a.labels[row];
    const bool counted = y >= 0 && y < a.vocab;
    a.lse[row] = lse;
    a.loss[row] = counted ? lse - Cvt<T>::to(x[y]) : 0.0f;
    a.correct[row] = counted && at == y ? 1.0f : 0.0f;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) backward_kernel(MlmLossBackward a) {
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(a.logits) + row * a.ld;
  T* g = static_cast<T*>(a.grad) + row * a.grad_ld;
  const int64_t y = a.labels[row];
  const bool counted = y >= 0 && y < a.vocab;
  const float scale = counted ? *a.grad_loss / *a.counted : 0.0f;
  const float lse = a.lse[row];
  const auto grad_of = [&](int64_t j, float v) {
    return counted ? (expf(v - lse) - (j == y ? 1.0f : 0.0f)) * scale : 0.0f;
  };
  // Vectors only where both sides are aligned.
  const bool aligned = rows_aligned(static_cast<const T*>(a.logits), a.ld) &&
                       rows_aligned(static_cast<const T*>(a.grad), a.grad_ld);
  const int64_t j0 = !aligned ? 0 : for_vectors(x, a.vocab, [&](int64_t k, float(&v)[kVec]) {
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      v[e] = grad_of(k * kVec + e, v[e]);
    dev::store_vec(g + k * kVec, v);
  });
  for (int64_t j = j0 + threadIdx.x; j < a.vocab; j += kThreads)
    g[j] = Cvt<T>::from(grad_of(j, Cvt<T>::to(x[j])));
}

bool shape_ok(int64_t rows, int64_t vocab, int64_t ld) {
  return rows >= 0 && rows <= 0x7FFFFFFF && vocab > 0 && ld >= vocab;
}

}  // namespace

cudaError_t mlm_loss_forward(const MlmLossForward& a, cudaStream_t stream) {
  if (!shape_ok(a.rows, a.vocab, a.ld) || !a.logits || !a.labels || !a.lse || !a.loss || !a.correct)
    return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  return dev::launch_for_elem(a.elem, [&](auto* type) {
    forward_kernel<std::remove_pointer_t<decltype(type)>>
        <<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(a);
  });
}

cudaError_t mlm_loss_backward(const MlmLossBackward& a, cudaStream_t stream) {
  if (!shape_ok(a.rows, a.vocab, a.ld) || a.grad_ld < a.vocab || !a.logits || !a.labels || !a.lse ||
      !a.grad_loss || !a.counted || !a.grad)
    return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  return dev::launch_for_elem(a.elem, [&](auto* type) {
    backward_kernel<std::remove_pointer_t<decltype(type)>>
        <<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(a);
  });
}

}  // namespace electra::model::cuda
