// What the process's LibTorch does with fp32 GEMMs, for tests of common/sgemm.cpp's routing.
#pragma once

#include <dlfcn.h>

#include <cstring>

namespace electra::testing {

// Whether LibTorch calls a separate BLAS library by its symbol (Debian's: libtorch_cpu.so has
// an undefined sgemm_ that libblas.so.3 / OpenBLAS defines), the case the interposer is for. A
// wheel with MKL linked into libtorch_cpu.so calls its own copy, which nothing can interpose.
inline bool libtorch_calls_a_separate_blas() {
  Dl_info info{};
  void* next = dlsym(RTLD_NEXT, "sgemm_");
  if (!next || !dladdr(next, &info) || !info.dli_fname) return false;
  return std::strstr(info.dli_fname, "blas") != nullptr;
}

}  // namespace electra::testing
