#include "model/cuda/column_sum_kernels.h"

#include <cuda_runtime.h>

#include <type_traits>

#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::kVec;
using dev::load_raw;
using dev::Vec;
using dev::widen;

constexpr int kWarps = 8;                             // warps per block: 256 threads
constexpr int kSpan = 32 * kVec;                      // columns a block covers: 4 per lane
constexpr int kRowsPerWarp = 32;                      // rows each warp walks
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;  // 256
constexpr int kBatch = 8;                             // rows a warp loads before it adds
constexpr int64_t kMaxRowBlocks = 65535;              // gridDim.y

// Block (bx, by): columns [128 bx, 128 bx + 128) of rows [256 by, 256 by + 256). Warp w sums
// rows 256 by + w, + 8, + 16, ... (each load of a warp: 128 contiguous columns); the block
// then adds its warps' sums in warp order into scratch row by. A warp loads kBatch rows before
// it adds any: with one row at a time, each add waited on its load, a warp had one load in
// flight, and the H200 trace had this kernel at ~30% of the memory bandwidth.
template <typename T>
__global__ void __launch_bounds__(kWarps * 32) partial_kernel(ColumnSums a) {
  __shared__ float red[kWarps][kSpan];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kSpan + kVec * lane;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kRowsPerBlock;
  float sum[kVec] = {0.f, 0.f, 0.f, 0.f};
  if (j < a.cols) {
    const T* __restrict__ in = static_cast<const T*>(a.in);
    for (int i0 = 0; i0 < kRowsPerWarp; i0 += kBatch) {
      Vec<T> raw[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int64_t r = r0 + static_cast<int64_t>(i0 + b) * kWarps + warp;
        if (r < a.rows) raw[b] = load_raw(in + r * a.cols + j);
      }
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int64_t r = r0 + static_cast<int64_t>(i0 + b) * kWarps + warp;
        if (r >= a.rows) break;
        float v[kVec];
        widen(raw[b], v);
#pragma unroll
        for (int e = 0; e < kVec; ++e)
          sum[e] += v[e];  // rows in order, as before
      }
    }
  }
#pragma unroll
  for (int e = 0; e < kVec; ++e)
    red[warp][kVec * lane + e] = sum[e];
  __syncthreads();
  if (threadIdx.x < kSpan) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * kSpan + threadIdx.x;
    if (c < a.cols) {
      float s = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w)
        s += red[w][threadIdx.x];
      a.scratch[static_cast<int64_t>(blockIdx.y) * a.cols + c] = s;
    }
  }
}

// Block bx: columns [32 bx, 32 bx + 32) of in [rows, cols]. Thread (x, y) sums column
// 32 bx + x over rows y, y + 32, y + 64, ... (a warp's loads: 32 contiguous floats), so 32
// loads per column are in flight, not one chain down all the rows; thread (x, 0) then adds the
// 32 sums in order.
template <typename T>
__global__ void __launch_bounds__(1024)
    sum_rows_kernel(const float* in, int64_t rows, int64_t cols, T* out) {
  __shared__ float red[32][33];
  const int x = threadIdx.x, y = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + x;
  float s = 0.f;
  if (c < cols) {
#pragma unroll 4
    for (int64_t r = y; r < rows; r += 32)
      s += in[r * cols + c];
  }
  red[y][x] = s;
  __syncthreads();
  if (y == 0 && c < cols) {
    float t = 0.f;
#pragma unroll
    for (int k = 0; k < 32; ++k)
      t += red[k][x];
    out[c] = dev::Cvt<T>::from(t);
  }
}

}  // namespace

int64_t column_sum_blocks(int64_t rows) {
  return (rows + kRowsPerBlock - 1) / kRowsPerBlock;
}

int64_t column_sum_max_rows() {
  return kMaxRowBlocks * kRowsPerBlock;
}

cudaError_t sum_rows(const float* in, int64_t rows, int64_t cols, void* out, Elem out_elem,
                     cudaStream_t stream) {
  if (rows < 0 || cols < 0) return cudaErrorInvalidValue;
  if (cols == 0) return cudaSuccess;
  const auto blocks = static_cast<unsigned>((cols + 31) / 32);
  return dev::launch_for_elem(out_elem, [&](auto* type) {
    using T = std::remove_pointer_t<decltype(type)>;
    sum_rows_kernel<T><<<blocks, dim3(32, 32), 0, stream>>>(in, rows, cols, static_cast<T*>(out));
  });
}

cudaError_t column_sums(const ColumnSums& a, cudaStream_t stream) {
  if (a.cols <= 0 || a.cols % kVec != 0 || a.rows < 0 || a.rows > column_sum_max_rows())
    return cudaErrorInvalidValue;
  if (a.rows == 0) {
    // Zero bits are 0 in each element type.
    const size_t size = a.out_elem == Elem::kFloat ? sizeof(float) : sizeof(uint16_t);
    return cudaMemsetAsync(a.out, 0, size * static_cast<size_t>(a.cols), stream);
  }
  const dim3 grid(static_cast<unsigned>((a.cols + kSpan - 1) / kSpan),
                  static_cast<unsigned>(column_sum_blocks(a.rows)));
  const cudaError_t rc = dev::launch_for_elem(a.elem, [&](auto* type) {
    partial_kernel<std::remove_pointer_t<decltype(type)>><<<grid, kWarps * 32, 0, stream>>>(a);
  });
  if (rc != cudaSuccess) return rc;
  return sum_rows(a.scratch, column_sum_blocks(a.rows), a.cols, a.out, a.out_elem, stream);
}

}  // namespace electra::model::cuda
