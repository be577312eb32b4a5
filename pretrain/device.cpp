#include "pretrain/device.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(ELECTRA_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/error.h"
#include "model/attention.h"

namespace electra::pretrain {

void add_runtime_keys(ConfigSchema& s, const std::string& precision_doc) {
  s.add_string("train.device", "auto",
               "where to compute: auto = cuda:<local rank> when a CUDA device is visible, else "
               "cpu",
               {"auto", "cpu", "cuda"})
      .add_string("train.precision", "fp32", precision_doc, {"fp32", "bf16", "fp16"})
      .add_bool("train.tf32", false,
                "CUDA only: let fp32 matmuls use TF32 tensor cores (faster, ~10 mantissa bits)");
}

Runtime resolve_runtime(const Config& c, int local_rank) {
  const std::string where = cat("(train.device from ", c.source("train.device"),
                                ", train.precision from ", c.source("train.precision"), ")");
  return resolve_runtime(c.get_string("train.device"), c.get_string("train.precision"),
                         c.get_bool("train.tf32"), local_rank, where);
}

Runtime resolve_runtime(const std::string& device, const std::string& precision, bool tf32,
                        int local_rank, const std::string& where) {
  Runtime rt;
  const bool cuda = torch::cuda::is_available();
  if (device == "cuda") {
    ELECTRA_CHECK_USER(cuda,
                       "train.device is cuda but no CUDA device is visible (this LibTorch has "
                       "no CUDA, or the GPU is hidden by CUDA_VISIBLE_DEVICES) ",
                       where, ". Use train.device=cpu, or auto to take a GPU when there is one");
  } else {
    ELECTRA_CHECK_USER(device == "auto" || device == "cpu", "train.device must be auto, cpu or ",
                       "cuda, got '", device, "' ", where);
  }
  if (device == "cuda" || (device == "auto" && cuda)) {
    const int n = static_cast<int>(torch::cuda::device_count());
    // The same mapping as launcher/runtime.cpp: local rank r uses cuda:(r mod visible devices).
    rt.device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank % n));
  }
  rt.precision = precision;
  if (precision == "bf16") {
    rt.dtype = at::kBFloat16;
  } else if (precision == "fp16") {
    ELECTRA_CHECK_USER(rt.device.is_cuda(),
                       "train.precision fp16 needs a CUDA device (CPUs have no fast fp16 "
                       "matmuls and it needs loss scaling) but this run is on the CPU ",
                       where,
                       ". Use train.precision=bf16 (same speed-up on the CPU, no loss "
                       "scaling) or fp32");
    rt.dtype = at::kHalf;
  } else {
    ELECTRA_CHECK_USER(precision == "fp32", "train.precision must be fp32, bf16 or fp16, got '",
                       precision, "' ", where);
  }
  rt.tf32 = tf32;
  return rt;
}

void apply_runtime(const Runtime& rt) {
  // Both switches are plain flags in LibTorch's global context (no CUDA needed to set them);
  // torch's defaults are cuBLAS off, cuDNN on: train.tf32 decides both so the choice is one.
  at::globalContext().setAllowTF32CuBLAS(rt.tf32);
  at::globalContext().setAllowTF32CuDNN(rt.tf32);
  // An A/B switch, not a key: which attention kernel is fastest is the card's and LibTorch's
  // business, and "auto" is what users get.
  if (const char* sdpa = std::getenv("ELECTRA_CUDA_SDPA"))
    model::set_sdpa_backend(sdpa, "(environment variable ELECTRA_CUDA_SDPA)");
}

std::string describe_device(const at::Device& device) {
  if (!device.is_cuda()) return device.str();
#if defined(ELECTRA_WITH_CUDA)
  return cat(device.str(), " ", at::cuda::getDeviceProperties(device.index())->name);
#else
  return device.str();
#endif
}

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

std::optional<double> peak_device_memory_mb(const at::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
#if defined(ELECTRA_WITH_CUDA)
  // allocated_bytes[0] is the aggregate over the small and large pools (StatType::AGGREGATE).
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
#else
  return std::nullopt;
#endif
}

void reset_peak_device_memory(const at::Device& device) {
  if (!device.is_cuda()) return;
#if defined(ELECTRA_WITH_CUDA)
  // The caching allocator sets up its per-device state on the first allocation; before that,
  // resetPeakStats refuses the device ("Invalid device argument").
  (void)at::empty({1}, at::TensorOptions().device(device).dtype(at::kByte));
  c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
}

at::Generator make_generator(const at::Device& device, uint64_t seed) {
  if (!device.is_cuda()) return at::detail::createCPUGenerator(seed);
#if defined(ELECTRA_WITH_CUDA)
  at::Generator gen = at::cuda::detail::createCUDAGenerator(device.index());
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed);
  return gen;
#else
  throw std::runtime_error(
      cat("internal error: make_generator(", device.str(), ") in a build without CUDA"));
#endif
}

at::Generator default_generator(const at::Device& device) {
  return at::globalContext().defaultGenerator(device);
}

std::string generator_state(const at::Generator& gen) {
  at::Generator g = gen;
  std::lock_guard<std::mutex> lock(g.mutex());
  at::Tensor s = g.get_state();  // uint8 [n], on the CPU for every device type
  return std::string(static_cast<const char*>(s.data_ptr()), static_cast<size_t>(s.numel()));
}

void set_generator_state(at::Generator& gen, const std::string& bytes, const std::string& origin) {
  at::Tensor s = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(s.data_ptr(), bytes.data(), bytes.size());
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(s);
  } catch (const c10::Error&) {
    throw_user(origin, ": corrupt random-generator state in checkpoint (", bytes.size(),
               " bytes do not fit the ", gen.device().str(), " generator)");
  }
}

}  // namespace electra::pretrain
