// Device helpers the CUDA kernels share: conversions between the element types and fp32, the
// rounding the eager path's tensors apply, 4-element vector loads and stores, a warp sum.
// Only for .cu files (nvcc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdint.h>

#include <type_traits>

#include "model/cuda/add_layer_norm_kernels.h"  // Elem

namespace electra::model::cuda::dev {

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

// Elements per vector access: 16 bytes of fp32, 8 of bf16 or fp16, one instruction each.
constexpr int kVec = 4;

template <typename T>
struct alignas(sizeof(T) * kVec) Vec {
  T v[kVec];
};

// p[0..3] as stored; p aligned to 4 elements. With widen() after it, for loops that issue
// several loads before they use any: a use in the same branch as its load makes the warp wait
// for that load before it reaches the next.
template <typename T>
__device__ __forceinline__ Vec<T> load_raw(const T* p) {
  return *reinterpret_cast<const Vec<T>*>(p);
}

template <typename T>
__device__ __forceinline__ void widen(const Vec<T>& w, float (&out)[kVec]) {
#pragma unroll
  for (int e = 0; e < kVec; ++e)
    out[e] = Cvt<T>::to(w.v[e]);
}

// p[0..3] widened to fp32; p aligned to 4 elements.
template <typename T>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[kVec]) {
  widen(load_raw(p), out);
}

// in rounded to T into p[0..3]; p aligned to 4 elements. One store instruction: built as one
// 64-bit integer from the halves' bits, since a store of the struct itself was sometimes split
// into 2- or 4-byte stores (seen in the PTX of the GELU kernel's bf16 output).
__device__ __forceinline__ unsigned short bits_of(__nv_bfloat16 v) {
  return __bfloat16_as_ushort(v);
}
__device__ __forceinline__ unsigned short bits_of(__half v) {
  return __half_as_ushort(v);
}
template <typename T>
__device__ __forceinline__ void store_vec(T* p, const float (&in)[kVec]) {
  if constexpr (std::is_same<T, float>::value) {
    *reinterpret_cast<float4*>(p) = make_float4(in[0], in[1], in[2], in[3]);
  } else {
    unsigned long long w = 0;
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      w |= static_cast<unsigned long long>(bits_of(Cvt<T>::from(in[e]))) << (16 * e);
    *reinterpret_cast<unsigned long long*>(p) = w;
  }
}

// launch(T*{}) with T the C++ type of `e` (float, __nv_bfloat16 or __half), then the launch's
// error; cudaErrorInvalidValue for any other e. A launcher's one switch over the element types.
template <typename Launch>
cudaError_t launch_for_elem(Elem e, Launch&& launch) {
  switch (e) {
    case Elem::kFloat:
      launch(static_cast<float*>(nullptr));
      break;
    case Elem::kBFloat16:
      launch(static_cast<__nv_bfloat16*>(nullptr));
      break;
    case Elem::kHalf:
      launch(static_cast<__half*>(nullptr));
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

// The better of two (value, index) candidates for a first argmax: the larger value, the smaller
// index on a tie.
__device__ __forceinline__ void keep_better(float& v, int64_t& i, float v2, int64_t i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

// For the multi-tensor kernels' tables, where tensor t has blocks [first[t], first[t + 1])
// (first ascending from 0; an empty tensor has none): the tensor of block b, the last t < count
// with first[t] <= b.
__device__ __forceinline__ int tensor_of_block(const int64_t* first, int count, int64_t b) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (first[mid] <= b)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// The same total in every lane.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace electra::model::cuda::dev
