#include "model/cuda/gelu_kernels.h"

#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::kVec;
using dev::load_raw;
using dev::round_to;
using dev::store_vec;
using dev::Vec;
using dev::widen;

constexpr int kThreads = 128;             // each thread 4 adjacent columns: 512 per block
constexpr int kRowsPerBlock = 64;         // rows each thread walks, summing its columns
constexpr int kBatch = 4;                 // rows a thread loads before it stores
constexpr int64_t kMaxRowBlocks = 65535;  // gridDim.y

// gelu(x) and dy * gelu'(x), in ATen's order of operations.
template <bool kTanh>
__device__ __forceinline__ void gelu_and_grad(float x, float dy, float& act, float& dx) {
  if (kTanh) {
    constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
    constexpr float kKappa = 0.044715f;
    const float x_sq = x * x;
    const float inner = kBeta * (x + kKappa * x_sq * x);
    const float t = tanhf(inner);
    act = 0.5f * x * (1.f + t);
    const float left = 0.5f * x, right = 1.f + t;
    const float right_d = left * (1.f - t * t) * kBeta * (1.f + 3.f * kKappa * x_sq);
    dx = dy * (0.5f * right + right_d);
  } else {
    constexpr float kAlpha = 0.7071067811865476f;  // 1 / sqrt(2)
    constexpr float kBeta = 0.3989422804014327f;   // 1 / sqrt(2 pi)
    const float cdf = 0.5f * (1.f + erff(x * kAlpha));
    const float pdf = kBeta * expf(x * x * -0.5f);
    act = x * cdf;  // x * 0.5 * (1 + erf): the halving is exact in either order
    dx = dy * (cdf + x * pdf);
  }
}

// Block (bx, by): columns [512 bx, 512 bx + 512) of rows [64 by, 64 by + 64); each thread walks
// its 4 columns down the rows (loads of a warp are 256 or 512 contiguous bytes), so its column
// sums need no exchange between threads. A thread issues kBatch rows' loads before it uses or
// stores any. Row by row, each row's first use waited for its loads, and its stores to d (read
// and written in place) had to precede the next row's loads, so a thread had one row's two
// loads in flight: the H200 trace had this kernel at ~55% of the bandwidth its bytes need.
template <typename T, bool kTanh>
__global__ void __launch_bounds__(kThreads) gelu_backward_kernel(GeluBackward a) {
  const int64_t j = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * kVec;
  if (j >= a.f) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kRowsPerBlock;
  const int64_t r1 = r0 + kRowsPerBlock < a.rows ? r0 + kRowsPerBlock : a.rows;
  const T* __restrict__ pre = static_cast<const T*>(a.pre);
  T* __restrict__ d = static_cast<T*>(a.d);
  T* __restrict__ act = static_cast<T*>(a.act);
  float sum[kVec] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t r = r0; r < r1; r += kBatch) {
    Vec<T> xr[kBatch], gr[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      if (r + b < r1) {
        xr[b] = load_raw(pre + (r + b) * a.f + j);
        gr[b] = load_raw(d + (r + b) * a.f + j);
      }
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      if (r + b >= r1) break;
      float x[kVec], g[kVec], av[kVec], dv[kVec];
      widen(xr[b], x);
      widen(gr[b], g);
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        gelu_and_grad<kTanh>(x[e], g[e], av[e], dv[e]);
        dv[e] = round_to<T>(dv[e]);
        sum[e] += dv[e];  // rows in order, as before
      }
      if (act) store_vec(act + (r + b) * a.f + j, av);
      store_vec(d + (r + b) * a.f + j, dv);
    }
  }
  store_vec(a.partial + static_cast<int64_t>(blockIdx.y) * a.f + j, sum);
}

template <typename T>
void launch(const GeluBackward& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.f + kThreads * kVec - 1) / (kThreads * kVec)),
                  static_cast<unsigned>(gelu_backward_blocks(a.rows)));
  if (a.tanh_approx) {
    gelu_backward_kernel<T, true><<<grid, kThreads, 0, stream>>>(a);
  } else {
    gelu_backward_kernel<T, false><<<grid, kThreads, 0, stream>>>(a);
  }
}

}  // namespace

int64_t gelu_backward_blocks(int64_t rows) {
  return (rows + kRowsPerBlock - 1) / kRowsPerBlock;
}

int64_t gelu_backward_max_rows() {
  return kMaxRowBlocks * kRowsPerBlock;
}

cudaError_t gelu_backward(const GeluBackward& a, cudaStream_t stream) {
  if (a.f <= 0 || a.f % kVec != 0 || a.rows < 0 || a.rows > gelu_backward_max_rows())
    return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  return dev::launch_for_elem(
      a.elem, [&](auto* type) { launch<std::remove_pointer_t<decltype(type)>>(a, stream); });
}

}  // namespace electra::model::cuda
