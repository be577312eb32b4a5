// `electra bench`: times real pretraining steps (or discriminator inference) of the configured
// model on synthetic token data, with no I/O, and relates the achieved matmul rate to the
// GEMM rate this machine reaches on the model's own shapes in the same run (MFU).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "common/config.h"
#include "distributed/communicator.h"

namespace electra::pretrain {

// Steps per timed window of BenchOptions::overlap (the last window may be shorter).
constexpr int64_t kOverlapWindow = 5;

struct BenchOptions {
  int64_t steps = 20;       // timed steps
  int64_t warmup = 3;       // untimed steps first (allocator, oneDNN primitive caches)
  bool inference = false;   // discriminator forward only, no gradient
  double gemm_seconds = 2;  // time budget of the GEMM micro-benchmark (0: skip it)
  double peak_tflops = 0;   // > 0: the device's peak dense TFLOP/s in this precision (mfu_device)
  std::string profile;      // non-empty: a Kineto trace of 3 more (untimed) steps, to this file
  // No synchronisation inside or between the timed steps: the gradient norm is never read
  // (AdamW skips a non-finite update on the device, as the trainer's default does) and the
  // steps are timed in windows of kOverlapWindow. On a GPU the host then queues the next
  // step's kernels while the device still runs this one's.
  bool overlap = false;
};

// Peak dense tensor-core TFLOP/s of a known GPU in `precision` ("bf16", "fp16", "fp32" with
// tf32 or not), looked up by its CUDA device name (from vendor data sheets); 0 when unknown
// (the CPU, an unlisted card).
double known_peak_tflops(const std::string& device_name, const std::string& precision, bool tf32);

// Runs the benchmark (collective over `comm`) and returns its result as one JSON object
// (rank 0's view; step times are the slowest rank's).
std::string run_bench(const Config& cfg, const BenchOptions& options, dist::Communicator& comm);

// GEMM rate of C[m, n] = A[m, k] B[k, n] in `dtype` ("fp32", "bf16" or "fp16") on `device`,
// best of timed repetitions within about `seconds`, in FLOP/s (2mnk per product).
double measure_gemm_flops(int64_t m, int64_t k, int64_t n, const std::string& dtype, double seconds,
                          const at::Device& device = at::kCPU);

}  // namespace electra::pretrain
