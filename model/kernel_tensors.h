// Tensors as the raw arguments of the CPU kernels (model/cpu_attention.cpp,
// model/add_layer_norm.cpp, model/feed_forward.cpp, model/fast_random.cpp): which dtypes they
// take, typed data pointers, and the empty tensors that stand for "none" (LibTorch 1.13's
// custom autograd functions neither take nor save an undefined tensor).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "model/fast_random.h"

namespace electra::model::detail {

// A CPU tensor in a dtype the kernels compute in.
inline bool cpu_fp32_or_bf16(const at::Tensor& t) {
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

// t's data as fp32, or null when t is not fp32.
inline float* f32_data(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t.data_ptr<float>() : nullptr;
}

// t's data as bf16 bits, or null when t is not bf16.
inline uint16_t* bf16_data(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>())
                                          : nullptr;
}

// p + o, or null for a null p: an optional operand's pointer at a block's start.
template <class T>
T* offset(T* p, int64_t o) {
  return p ? p + o : nullptr;
}

// An optional fp32 operand (a padding mask, a bias): t in fp32 and contiguous, or an empty
// tensor for undefined; float_data gives null for the empty one.
inline at::Tensor float_or_empty(const at::Tensor& t) {
  return t.defined() ? t.to(at::kFloat).contiguous()
                     : at::empty({0}, at::TensorOptions().dtype(at::kFloat));
}
inline const float* float_data(const at::Tensor& t) {
  return t.numel() > 0 ? t.data_ptr<float>() : nullptr;
}

// model::dropout's mask for p > 0 (the same generator draw), else an empty tensor; keep_data
// gives null for the empty one.
inline at::Tensor keep_mask_or_empty(at::IntArrayRef sizes, double p) {
  return p > 0.0 ? dropout_keep_mask(sizes, p)
                 : at::empty({0}, at::TensorOptions().dtype(at::kBool));
}
inline const bool* keep_data(const at::Tensor& keep) {
  return keep.numel() > 0 ? keep.data_ptr<bool>() : nullptr;
}

}  // namespace electra::model::detail
