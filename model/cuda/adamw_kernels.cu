#include "model/cuda/adamw_kernels.h"

#include <cuda_runtime.h>

#include <math.h>

#include "model/cuda/elem.cuh"

namespace electra::model::cuda {
namespace {

using dev::kVec;
using dev::load_raw;
using dev::Vec;

constexpr int kThreads = 256;
constexpr int kVectors = 4;                             // vectors a thread updates per block
constexpr int64_t kChunk = kThreads * kVectors * kVec;  // 4096 elements per block

// The table and each tensor's first block, as model/cuda/multi_cast_kernels.cu: block b updates
// chunk b - first[t] of tensor t, with first[t] <= b < first[t + 1].
struct Plan {
  MultiAdamW a;
  int64_t first[kMultiAdamWMax + 1];
};

// The update's scalars, rounded to fp32 as pretrain/optimizer.cpp rounds them for the CPU pass.
struct Scalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, decay, step_size, bc2_sqrt, eps;
};

__device__ __forceinline__ Scalars scalars_of(const MultiAdamW& a) {
  const double s = static_cast<double>(*a.step);
  const double bc1 = 1.0 - pow(a.beta1, s), bc2 = 1.0 - pow(a.beta2, s);
  return {static_cast<float>(a.beta1),
          static_cast<float>(a.beta2),
          static_cast<float>(1.0 - a.beta1),
          static_cast<float>(1.0 - a.beta2),
          static_cast<float>(1.0 - a.lr * a.weight_decay),
          static_cast<float>(a.lr / bc1),
          static_cast<float>(sqrt(bc2)),
          static_cast<float>(a.eps)};
}

// One element, in pretrain/adamw_kernel.cpp's order of operations.
__device__ __forceinline__ void update(float& p, float g, float& m, float& v, const Scalars& s) {
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  const float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
  p = p * s.decay - s.step_size * (m / denom);
}

__global__ void __launch_bounds__(kThreads) multi_adamw_kernel(const Plan plan) {
  const MultiAdamW& a = plan.a;
  if (a.found_inf && *a.found_inf != 0.f) return;  // a skipped step: nothing changes
  const int64_t b = blockIdx.x;
  const int t = dev::tensor_of_block(plan.first, a.count, b);
  float* __restrict__ p = a.p[t];
  const float* __restrict__ g = a.g[t];
  float* __restrict__ m = a.m[t];
  float* __restrict__ v = a.v[t];
  const int64_t begin = (b - plan.first[t]) * kChunk;
  const int64_t end = begin + kChunk < a.n[t] ? begin + kChunk : a.n[t];
  const Scalars s = scalars_of(a);
  // Every vector's four loads before any update (16 loads in flight per thread).
  Vec<float> pr[kVectors], gr[kVectors], mr[kVectors], vr[kVectors];
#pragma unroll
  for (int k = 0; k < kVectors; ++k) {
    const int64_t i = begin + (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (i + kVec <= end) {
      pr[k] = load_raw(p + i);
      gr[k] = load_raw(g + i);
      mr[k] = load_raw(m + i);
      vr[k] = load_raw(v + i);
    }
  }
#pragma unroll
  for (int k = 0; k < kVectors; ++k) {
    const int64_t i = begin + (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (i + kVec <= end) {
#pragma unroll
      for (int e = 0; e < kVec; ++e)
        update(pr[k].v[e], gr[k].v[e], mr[k].v[e], vr[k].v[e], s);
      *reinterpret_cast<Vec<float>*>(p + i) = pr[k];
      *reinterpret_cast<Vec<float>*>(m + i) = mr[k];
      *reinterpret_cast<Vec<float>*>(v + i) = vr[k];
    } else {
      for (int64_t e = i; e < end; ++e)  // the tail past the last whole vector
        update(p[e], g[e], m[e], v[e], s);
    }
  }
}

bool aligned(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % (sizeof(float) * kVec) == 0;
}

}  // namespace

cudaError_t multi_adamw(const MultiAdamW& a, cudaStream_t stream) {
  if (a.count < 0 || a.count > kMultiAdamWMax || !a.step) return cudaErrorInvalidValue;
  Plan plan;
  plan.a = a;
  int64_t blocks = 0;
  for (int t = 0; t < a.count; ++t) {
    if (a.n[t] < 0) return cudaErrorInvalidValue;
    if (a.n[t] > 0 &&
        (!aligned(a.p[t]) || !aligned(a.g[t]) || !aligned(a.m[t]) || !aligned(a.v[t])))
      return cudaErrorInvalidValue;
    plan.first[t] = blocks;
    blocks += (a.n[t] + kChunk - 1) / kChunk;
  }
  plan.first[a.count] = blocks;
  if (blocks == 0) return cudaSuccess;
  if (blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
  multi_adamw_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(plan);
  return cudaGetLastError();
}

}  // namespace electra::model::cuda
