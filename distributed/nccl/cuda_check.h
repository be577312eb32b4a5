// Check macros for CUDA runtime and NCCL calls: a failure throws with the call, the rank and
// file:line, plus the library's error string (and NCCL's last error message).
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#define ELECTRA_CUDA_CHECK(rank, call)                                                           \
  do {                                                                                           \
    const cudaError_t electra_cuda_rc_ = (call);                                                 \
    if (electra_cuda_rc_ != cudaSuccess)                                                         \
      ::electra::dist::detail::cuda_failed(electra_cuda_rc_, #call, (rank), __FILE__, __LINE__); \
  } while (0)

#define ELECTRA_NCCL_CHECK(rank, comm, call)                                                  \
  do {                                                                                        \
    const ncclResult_t electra_nccl_rc_ = (call);                                             \
    if (electra_nccl_rc_ != ncclSuccess)                                                      \
      ::electra::dist::detail::nccl_failed(electra_nccl_rc_, (comm), #call, (rank), __FILE__, \
                                           __LINE__);                                         \
  } while (0)

namespace electra::dist::detail {

[[noreturn]] void cuda_failed(cudaError_t rc, const char* call, int rank, const char* file,
                              int line);
[[noreturn]] void nccl_failed(ncclResult_t rc, ncclComm_t comm, const char* call, int rank,
                              const char* file, int line);

}  // namespace electra::dist::detail
