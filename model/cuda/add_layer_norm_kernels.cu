#include "model/cuda/add_layer_norm_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/dropout_hash.h"

namespace electra::model::cuda {
namespace {

constexpr int kWarps = 8;        // warps per block: 256 threads
constexpr int kRowsPerWarp = 8;  // backward: each block walks 64 rows, one partial sum each

template <typename T>
struct Cvt;
template <>
struct Cvt<float> {
  static __device__ __forceinline__ float to(float v) { return v; }
  static __device__ __forceinline__ float from(float v) { return v; }
};
template <>
struct Cvt<__nv_bfloat16> {
  static __device__ __forceinline__ float to(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 from(float v) { return __float2bfloat16_rn(v); }
};
template <>
struct Cvt<__half> {
  static __device__ __forceinline__ float to(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half from(float v) { return __float2half_rn(v); }
};

// v as the eager path holds it in a tensor of dtype T.
template <typename T>
__device__ __forceinline__ float round_to(float v) {
  return Cvt<T>::to(Cvt<T>::from(v));
}

// The same total in every lane.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row; lane l holds columns l, l + 32, ... (kPer of them, coalesced loads), so the
// row is read once and its values stay in registers for the mean, the variance and the output.
template <typename T, int kPer>
__global__ void __launch_bounds__(kWarps * 32) forward_kernel(AddLayerNormForward a) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= a.rows) return;
  const int h = static_cast<int>(a.h);
  const int64_t base = row * a.h;
  const T* y = static_cast<const T*>(a.y) + base;
  const float* r = a.residual + base;
  const uint64_t seed = a.seed_at ? *a.seed_at : a.seed;
  float v[kPer];  // x = dropout(y) + residual, this lane's columns
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = lane + 32 * k;
    v[k] = 0.f;
    if (j < h) {
      float t = Cvt<T>::to(y[j]);
      if (a.threshold != 0)
        t = detail::hash_keep(seed, static_cast<uint64_t>(base + j), a.threshold)
                ? round_to<T>(t * a.scale)
                : 0.f;
      v[k] = t + r[j];
      sum += v[k];
    }
  }
  const float mean = warp_sum(sum) / static_cast<float>(h);
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = lane + 32 * k;
    if (j < h) {
      const float d = v[k] - mean;
      sq += d * d;
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / static_cast<float>(h) + a.eps);
  float* x = a.x + base;
  float* out = a.out + base;
  T* low = a.out_low ? static_cast<T*>(a.out_low) + base : nullptr;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = lane + 32 * k;
    if (j < h) {
      x[j] = v[k];
      const float o = (v[k] - mean) * rstd * a.gamma[j] + a.beta[j];
      out[j] = o;
      if (low) low[j] = Cvt<T>::from(o);
    }
  }
  if (lane == 0) {
    a.mean[row] = mean;
    a.rstd[row] = rstd;
  }
}

// One warp per row as forward, kRowsPerWarp rows per warp; each lane accumulates its columns'
// parameter gradients over its rows, then the block adds its warps' sums in warp order.
template <typename T, int kPer>
__global__ void __launch_bounds__(kWarps * 32) backward_kernel(AddLayerNormBackward a) {
  __shared__ float red[kWarps][kPer * 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int h = static_cast<int>(a.h);
  const T* g_low = static_cast<const T*>(a.g_low);
  T* dy = static_cast<T*>(a.dy);
  float dg[kPer], db[kPer];  // sums of g * xhat and of g over this warp's rows
  const uint64_t seed = a.seed_at ? *a.seed_at : a.seed;
#pragma unroll
  for (int k = 0; k < kPer; ++k)
    dg[k] = db[k] = 0.f;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarps * kRowsPerWarp;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t row = first + static_cast<int64_t>(i) * kWarps + warp;
    if (row >= a.rows) break;  // the warp's later rows are further out
    const int64_t base = row * a.h;
    const float mean = a.mean[row], rstd = a.rstd[row];
    float g[kPer], xh[kPer];
    float s1 = 0.f, s2 = 0.f;
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int j = lane + 32 * k;
      g[k] = xh[k] = 0.f;
      if (j < h) {
        float gv = a.g_out ? a.g_out[base + j] : 0.f;
        if (g_low) gv += Cvt<T>::to(g_low[base + j]);
        g[k] = gv;
        xh[k] = (a.x[base + j] - mean) * rstd;
        const float gg = gv * a.gamma[j];
        s1 += gg;
        s2 += gg * xh[k];
        dg[k] += gv * xh[k];
        db[k] += gv;
      }
    }
    const float c1 = warp_sum(s1) / static_cast<float>(h);
    const float c2 = warp_sum(s2) / static_cast<float>(h);
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int j = lane + 32 * k;
      if (j < h) {
        const float dx = rstd * (g[k] * a.gamma[j] - c1 - xh[k] * c2);
        a.dx[base + j] = dx;
        const bool kept = a.threshold == 0 ||
                          detail::hash_keep(seed, static_cast<uint64_t>(base + j), a.threshold);
        dy[base + j] = Cvt<T>::from(kept ? round_to<T>(dx) * a.scale : 0.f);
      }
    }
  }
  float* part = a.partial + static_cast<int64_t>(blockIdx.x) * 2 * a.h;
  for (int which = 0; which < 2; ++which) {
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int j = lane + 32 * k;
      if (j < h) red[warp][j] = which == 0 ? dg[k] : db[k];
    }
    __syncthreads();
    for (int j = threadIdx.x; j < h; j += kWarps * 32) {
      float s = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w)
        s += red[w][j];
      part[which * a.h + j] = s;
    }
    __syncthreads();
  }
}

// The smallest instantiated kPer >= ceil(h / 32) (h <= kMaxHidden).
template <typename Launch>
void with_per_lane(int64_t h, Launch&& launch) {
  const int64_t per = (h + 31) / 32;
  if (per <= 2) {
    launch(std::integral_constant<int, 2>());
  } else if (per <= 4) {
    launch(std::integral_constant<int, 4>());
  } else if (per <= 8) {
    launch(std::integral_constant<int, 8>());
  } else if (per <= 16) {
    launch(std::integral_constant<int, 16>());
  } else if (per <= 24) {
    launch(std::integral_constant<int, 24>());
  } else {
    launch(std::integral_constant<int, 32>());
  }
}

template <template <typename> class Launch, typename Args>
cudaError_t with_elem(const Args& a, cudaStream_t stream) {
  if (a.h <= 0 || a.h > kMaxHidden || a.rows < 0) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  switch (a.elem) {
    case Elem::kFloat:
      Launch<float>::run(a, stream);
      break;
    case Elem::kBFloat16:
      Launch<__nv_bfloat16>::run(a, stream);
      break;
    case Elem::kHalf:
      Launch<__half>::run(a, stream);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

template <typename T>
struct LaunchForward {
  static void run(const AddLayerNormForward& a, cudaStream_t stream) {
    const auto blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
    with_per_lane(a.h, [&](auto per) {
      forward_kernel<T, decltype(per)::value><<<blocks, kWarps * 32, 0, stream>>>(a);
    });
  }
};

template <typename T>
struct LaunchBackward {
  static void run(const AddLayerNormBackward& a, cudaStream_t stream) {
    const auto blocks = static_cast<unsigned>(add_layer_norm_blocks(a.rows));
    with_per_lane(a.h, [&](auto per) {
      backward_kernel<T, decltype(per)::value><<<blocks, kWarps * 32, 0, stream>>>(a);
    });
  }
};

}  // namespace

int64_t add_layer_norm_blocks(int64_t rows) {
  constexpr int64_t kRows = kWarps * kRowsPerWarp;
  return (rows + kRows - 1) / kRows;
}

cudaError_t add_layer_norm_forward(const AddLayerNormForward& a, cudaStream_t stream) {
  return with_elem<LaunchForward>(a, stream);
}

cudaError_t add_layer_norm_backward(const AddLayerNormBackward& a, cudaStream_t stream) {
  return with_elem<LaunchBackward>(a, stream);
}

}  // namespace electra::model::cuda
