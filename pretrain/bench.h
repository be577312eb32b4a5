// `electra bench`: times real pretraining steps (or discriminator inference) of the configured
// model on synthetic token data, with no I/O, and relates the achieved matmul rate to the
// GEMM rate this machine reaches on the model's own shapes in the same run (MFU).
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "distributed/communicator.h"

namespace electra::pretrain {

struct BenchOptions {
  int64_t steps = 20;       // timed steps
  int64_t warmup = 3;       // untimed steps first (allocator, oneDNN primitive caches)
  bool inference = false;   // discriminator forward only, no gradient
  double gemm_seconds = 2;  // time budget of the GEMM micro-benchmark (0: skip it)
};

// Runs the benchmark (collective over `comm`) and returns its result as one JSON object
// (rank 0's view; step times are the slowest rank's).
std::string run_bench(const Config& cfg, const BenchOptions& options, dist::Communicator& comm);

// GEMM rate of C[m, n] = A[m, k] B[k, n] in `dtype` ("fp32" or "bf16"), best of timed
// repetitions within about `seconds`, in FLOP/s (2mnk per product).
double measure_gemm_flops(int64_t m, int64_t k, int64_t n, const std::string& dtype,
                          double seconds);

}  // namespace electra::pretrain
