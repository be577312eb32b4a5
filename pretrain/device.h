// Where a run computes and in which precision: the train.device / train.precision /
// train.tf32 keys shared by pretraining, `electra bench` and fine-tuning, and the few CUDA
// services they need (device name, peak memory, generators). Everything here compiles against
// a CPU-only LibTorch; the CUDA-only calls sit behind ELECTRA_WITH_CUDA (set by CMake when
// LibTorch is a CUDA build) in device.cpp.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/config.h"

namespace electra::pretrain {

// train.device, train.precision (`precision_doc` says what it does for that command) and
// train.tf32.
void add_runtime_keys(ConfigSchema& schema, const std::string& precision_doc);

struct Runtime {
  at::Device device = at::kCPU;
  std::string precision = "fp32";     // fp32 | bf16 | fp16
  at::ScalarType dtype = at::kFloat;  // compute dtype of the matmuls
  bool tf32 = false;
  bool fp16() const { return dtype == at::kHalf; }
};

// Resolves and checks the keys: train.device auto = cuda:<local_rank mod devices> when LibTorch
// sees a CUDA device, else cpu; cuda without a device and fp16 on the CPU are UserErrors naming
// the key and its source. Does not touch global state (see apply_runtime).
Runtime resolve_runtime(const Config& cfg, int local_rank);
// The same from plain values (`where` names their origin in messages).
Runtime resolve_runtime(const std::string& device, const std::string& precision, bool tf32,
                        int local_rank, const std::string& where);

// Applies process-wide settings: TF32 for fp32 matmuls (cuBLAS and cuDNN) on or off.
void apply_runtime(const Runtime& rt);

// "cpu", or "cuda:0 NVIDIA H100 80GB HBM3" (the name needs a CUDA build).
std::string describe_device(const at::Device& device);
// Waits for the device's queued work (a no-op on the CPU): timing needs it on CUDA.
void synchronize(const at::Device& device);
// Peak bytes the CUDA caching allocator handed out on `device` since the last reset, in MiB;
// nullopt on the CPU or in a build without CUDA.
std::optional<double> peak_device_memory_mb(const at::Device& device);
void reset_peak_device_memory(const at::Device& device);

// A generator of its own on `device` seeded with `seed`: a CPU generator, or (CUDA builds) a
// CUDA Philox generator, so that sampling noise is drawn where the logits live.
at::Generator make_generator(const at::Device& device, uint64_t seed);
// The default generator of `device` (dropout, SDPA dropout draw from it).
at::Generator default_generator(const at::Device& device);

// Raw generator state bytes, and restoring them. A state that does not fit the generator
// (corrupt, or from another device type) is a UserError naming `origin`.
std::string generator_state(const at::Generator& gen);
void set_generator_state(at::Generator& gen, const std::string& bytes, const std::string& origin);

}  // namespace electra::pretrain
