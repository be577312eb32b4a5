#include "model/cuda/add_layer_norm_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/dropout_hash.h"
#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::kVec;
using dev::load_raw;
using dev::load_vec;
using dev::round_to;
using dev::store_vec;
using dev::Vec;
using dev::warp_sum;
using dev::widen;

constexpr int kWarps = 8;         // warps per block: 256 threads
constexpr int kRowsPerWarp = 4;   // backward: each block walks 32 rows, one partial sum each
constexpr int kSpan = 32 * kVec;  // columns a warp covers with one vector access per lane

// One warp per row; lane l holds columns 4l .. 4l + 3 of every span of 128 (kChunks spans,
// one 16- or 8-byte access each, coalesced), so the row is read once and its values stay in
// registers for the mean, the variance and the output. h is a multiple of 4. A lane issues its
// loads of y and the residual for all chunks before it uses any: a use in the same chunk as its
// load made the warp wait a memory round trip per chunk. gamma and beta, the same for every
// row, are read where they are used (cache hits).
template <typename T, int kChunks>
__global__ void __launch_bounds__(kWarps * 32) forward_kernel(AddLayerNormForward a) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= a.rows) return;
  const int h = static_cast<int>(a.h);
  const int64_t base = row * a.h;
  const T* __restrict__ y = static_cast<const T*>(a.y) + base;
  const float* __restrict__ r = a.residual + base;
  Vec<T> yr[kChunks];
  Vec<float> rr[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int j = kVec * lane + kSpan * c;
    if (j < h) {
      yr[c] = load_raw(y + j);
      rr[c] = load_raw(r + j);
    }
  }
  const uint64_t seed = a.seed_at ? *a.seed_at : a.seed;
  float v[kChunks][kVec];  // x = dropout(y) + residual, this lane's columns
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int j = kVec * lane + kSpan * c;
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      v[c][e] = 0.f;
    if (j < h) {
      float t[kVec], res[kVec];
      widen(yr[c], t);
      widen(rr[c], res);
      // base + j is a multiple of 4: one hash for the four elements.
      const unsigned keep =
          detail::hash_keep4(seed, static_cast<uint64_t>(base + j) >> 2, a.threshold);
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        if (a.threshold != 0) t[e] = (keep >> e) & 1u ? round_to<T>(t[e] * a.scale) : 0.f;
        v[c][e] = t[e] + res[e];
        sum += v[c][e];
      }
    }
  }
  const float mean = warp_sum(sum) / static_cast<float>(h);
  float sq = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    if (kVec * lane + kSpan * c < h) {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        const float d = v[c][e] - mean;
        sq += d * d;
      }
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / static_cast<float>(h) + a.eps);
  float* x = a.x + base;
  float* out = a.out + base;
  T* low = a.out_low ? static_cast<T*>(a.out_low) + base : nullptr;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int j = kVec * lane + kSpan * c;
    if (j < h) {
      float gamma[kVec], beta[kVec], o[kVec];
      load_vec(a.gamma + j, gamma);
      load_vec(a.beta + j, beta);
#pragma unroll
      for (int e = 0; e < kVec; ++e)
        o[e] = (v[c][e] - mean) * rstd * gamma[e] + beta[e];
      store_vec(x + j, v[c]);
      store_vec(out + j, o);
      if (low) store_vec(low + j, o);
    }
  }
  if (lane == 0) {
    a.mean[row] = mean;
    a.rstd[row] = rstd;
  }
}

// One warp per row as forward, kRowsPerWarp rows per warp; each lane accumulates its columns'
// parameter gradients over its rows, then the block adds its warps' sums in warp order.
template <typename T, int kChunks>
__global__ void __launch_bounds__(kWarps * 32) backward_kernel(AddLayerNormBackward a) {
  __shared__ float red[kWarps][kChunks * kSpan];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int h = static_cast<int>(a.h);
  const T* g_low = static_cast<const T*>(a.g_low);
  T* dy = static_cast<T*>(a.dy);
  float dg[kChunks][kVec], db[kChunks][kVec];  // sums of g * xhat and of g over this warp's rows
  const uint64_t seed = a.seed_at ? *a.seed_at : a.seed;
#pragma unroll
  for (int c = 0; c < kChunks; ++c)
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      dg[c][e] = db[c][e] = 0.f;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarps * kRowsPerWarp;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t row = first + static_cast<int64_t>(i) * kWarps + warp;
    if (row >= a.rows) break;  // the warp's later rows are further out
    const int64_t base = row * a.h;
    const float mean = a.mean[row], rstd = a.rstd[row];
    float g[kChunks][kVec], xh[kChunks][kVec];
    float s1 = 0.f, s2 = 0.f;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int j = kVec * lane + kSpan * c;
#pragma unroll
      for (int e = 0; e < kVec; ++e)
        g[c][e] = xh[c][e] = 0.f;
      if (j < h) {
        float go[kVec], gl[kVec], xv[kVec], gamma[kVec];
        if (a.g_out) {
          load_vec(a.g_out + base + j, go);
        } else {
#pragma unroll
          for (int e = 0; e < kVec; ++e)
            go[e] = 0.f;
        }
        if (g_low) {
          load_vec(g_low + base + j, gl);
#pragma unroll
          for (int e = 0; e < kVec; ++e)
            go[e] += gl[e];
        }
        load_vec(a.x + base + j, xv);
        load_vec(a.gamma + j, gamma);
#pragma unroll
        for (int e = 0; e < kVec; ++e) {
          g[c][e] = go[e];
          xh[c][e] = (xv[e] - mean) * rstd;
          const float gg = go[e] * gamma[e];
          s1 += gg;
          s2 += gg * xh[c][e];
          dg[c][e] += go[e] * xh[c][e];
          db[c][e] += go[e];
        }
      }
    }
    const float c1 = warp_sum(s1) / static_cast<float>(h);
    const float c2 = warp_sum(s2) / static_cast<float>(h);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int j = kVec * lane + kSpan * c;
      if (j < h) {
        float gamma[kVec], dx[kVec], d[kVec];
        load_vec(a.gamma + j, gamma);
        const unsigned keep =
            detail::hash_keep4(seed, static_cast<uint64_t>(base + j) >> 2, a.threshold);
#pragma unroll
        for (int e = 0; e < kVec; ++e) {
          dx[e] = rstd * (g[c][e] * gamma[e] - c1 - xh[c][e] * c2);
          d[e] = (keep >> e) & 1u ? round_to<T>(dx[e]) * a.scale : 0.f;
        }
        store_vec(a.dx + base + j, dx);
        store_vec(dy + base + j, d);
      }
    }
  }
  float* part = a.partial + static_cast<int64_t>(blockIdx.x) * 2 * a.h;
  for (int which = 0; which < 2; ++which) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int j = kVec * lane + kSpan * c;
      if (j < h) {
#pragma unroll
        for (int e = 0; e < kVec; ++e)
          red[warp][j + e] = which == 0 ? dg[c][e] : db[c][e];
      }
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

// The smallest instantiated kChunks >= ceil(h / 128) (h <= kMaxHidden = 8 spans).
template <typename Launch>
void with_chunks(int64_t h, Launch&& launch) {
  const int64_t chunks = (h + kSpan - 1) / kSpan;
  if (chunks <= 1) {
    launch(std::integral_constant<int, 1>());
  } else if (chunks <= 2) {
    launch(std::integral_constant<int, 2>());
  } else if (chunks <= 4) {
    launch(std::integral_constant<int, 4>());
  } else if (chunks <= 6) {
    launch(std::integral_constant<int, 6>());
  } else {
    launch(std::integral_constant<int, 8>());
  }
}

template <template <typename> class Launch, typename Args>
cudaError_t with_elem(const Args& a, cudaStream_t stream) {
  if (a.h <= 0 || a.h > kMaxHidden || a.h % kVec != 0 || a.rows < 0) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  return dev::launch_for_elem(
      a.elem, [&](auto* type) { Launch<std::remove_pointer_t<decltype(type)>>::run(a, stream); });
}

template <typename T>
struct LaunchForward {
  static void run(const AddLayerNormForward& a, cudaStream_t stream) {
    const auto blocks = static_cast<unsigned>((a.rows + kWarps - 1) / kWarps);
    with_chunks(a.h, [&](auto chunks) {
      forward_kernel<T, decltype(chunks)::value><<<blocks, kWarps * 32, 0, stream>>>(a);
    });
  }
};

template <typename T>
struct LaunchBackward {
  static void run(const AddLayerNormBackward& a, cudaStream_t stream) {
    const auto blocks = static_cast<unsigned>(add_layer_norm_blocks(a.rows));
    with_chunks(a.h, [&](auto chunks) {
      backward_kernel<T, decltype(chunks)::value><<<blocks, kWarps * 32, 0, stream>>>(a);
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
