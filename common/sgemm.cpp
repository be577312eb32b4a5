// fp32 GEMM on oneDNN's kernels instead of OpenBLAS's, for all of LibTorch's CPU matmuls.
//
// Debian's LibTorch 1.13 sends every fp32 matmul (linear layers, their gradients, batched products)
// to the Fortran BLAS symbol sgemm_, which is OpenBLAS 0.3.21. The same LibTorch also links oneDNN
// 2.6 (libdnnl.so.2, for its bf16 and convolution paths), whose own fp32 GEMM has AVX-512 kernels
// that are faster on the shapes of an ELECTRA step. Measured in `electra bench` (2 threads each,
// this project's 2-core Xeon, OpenBLAS on its SKYLAKEX kernels): 184-205 -> 198-215 GFLOP/s on
// ELECTRA-Small's 256-wide products, 105-175 -> 215-271 on the generator's 64-wide ones, and the
// fused attention's small per-head products (one thread each) took half the time; an fp32 training
// step 1.2x faster in all. ATen keeps its BLAS wrappers private, so the way in is the symbol
// itself: this file defines sgemm_, the executable's definition comes first in the dynamic linker's
// search order, and LibTorch's calls arrive here. Each call goes to oneDNN's dnnl_sgemm, found at
// run time in the process (no link dependency: a LibTorch without a separate libdnnl, such as the
// pip wheel with its statically linked MKL, never calls this symbol and loses nothing), or to the
// next sgemm_ in the search order, OpenBLAS's.
//
// ELECTRA_SGEMM=openblas keeps OpenBLAS (for comparisons); `electra bench` reports the choice.
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/blas.h"

extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c, const int* ldc);

namespace electra::blas {
namespace {

// Row-major, as oneDNN defines it: C[m, n] = alpha op(A) op(B) + beta C.
using DnnlSgemmFn = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                            const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                            float* c, int64_t ldc);
// Column-major, the Fortran BLAS interface.
using FortranSgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n,
                                const int* k, const float* alpha, const float* a, const int* lda,
                                const float* b, const int* ldb, const float* beta, float* c,
                                const int* ldc);

struct Backends {
  DnnlSgemmFn dnnl = nullptr;
  FortranSgemmFn blas = nullptr;  // the sgemm_ this file hides (OpenBLAS on Debian)
};

// LibTorch's calls that reached the interposer below.
std::atomic<uint64_t> g_interposed{0};

// ELECTRA_SGEMM, or "" when unset.
std::string sgemm_env() {
  const char* want = std::getenv("ELECTRA_SGEMM");
  return want ? want : "";
}

const Backends& backends() {
  static const Backends b = [] {
    Backends r;
    // RTLD_NEXT from here: the first sgemm_ after the executable's own (this one).
    r.blas = reinterpret_cast<FortranSgemmFn>(dlsym(RTLD_NEXT, "sgemm_"));
    if (r.blas == &::sgemm_) r.blas = nullptr;  // never call ourselves
    if (sgemm_env() != "openblas")
      r.dnnl = reinterpret_cast<DnnlSgemmFn>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
    return r;
  }();
  return b;
}

}  // namespace

uint64_t interposed_sgemm_calls() {
  return g_interposed.load(std::memory_order_relaxed);
}

std::string sgemm_env_error() {
  const std::string want = sgemm_env();
  if (want.empty() || want == "onednn" || want == "openblas") return "";
  return "ELECTRA_SGEMM=" + want +
         " is not a GEMM electra knows: unset it (oneDNN's where LibTorch links it, the "
         "default) or set it to openblas";
}

const char* sgemm_backend() {
  const Backends& b = backends();
  if (b.dnnl) return "onednn";
  if (b.blas) return "blas";
  return "";
}

bool have_sgemm() {
  const Backends& b = backends();
  return b.dnnl || b.blas;
}

namespace {

// Row-major, bf16 A and B (raw bits), fp32 C: C[m, n] = alpha op(A) op(B) + beta C.
using DnnlBf16GemmFn = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k,
                               float alpha, const uint16_t* a, int64_t lda, const uint16_t* b,
                               int64_t ldb, float beta, float* c, int64_t ldc);

DnnlBf16GemmFn dnnl_bf16_gemm() {
  static const auto fn =
      reinterpret_cast<DnnlBf16GemmFn>(dlsym(RTLD_DEFAULT, "dnnl_gemm_bf16bf16f32"));
  return fn;
}

}  // namespace

bool have_gemm_bf16() {
  return dnnl_bf16_gemm() != nullptr;
}

bool gemm_bf16(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const uint16_t* a,
               int64_t lda, const uint16_t* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const DnnlBf16GemmFn fn = dnnl_bf16_gemm();
  return fn &&
         fn(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0;
}

bool sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const Backends& be = backends();
  // 0 is dnnl_success; anything else (arguments oneDNN rejects) falls through to the BLAS.
  if (be.dnnl &&
      be.dnnl(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0)
    return true;
  if (!be.blas) return false;
  // The column-major BLAS computes the transpose, C^T = op(B)^T op(A)^T, from the same memory.
  const char opa = tb ? 'T' : 'N', opb = ta ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(lda), ildb = static_cast<int>(ldb);
  const int ildc = static_cast<int>(ldc);
  be.blas(&opa, &opb, &in, &im, &ik, &alpha, b, &ildb, a, &ilda, &beta, c, &ildc);
  return true;
}

}  // namespace electra::blas

namespace {

// A Fortran BLAS op argument: 'T' and 'C' (conjugate, the same for real data) transpose.
bool transposes(const char* op) {
  return *op == 'T' || *op == 't' || *op == 'C' || *op == 'c';
}

}  // namespace

// The interposer LibTorch's fp32 matmuls land in (see the top of this file). Column-major
// C[m, n] = alpha op(A) op(B) + beta C is the row-major C^T[n, m] = alpha op(B)^T op(A)^T, so
// the row-major call swaps the operands and keeps each one's transpose flag.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc) {
  electra::blas::g_interposed.fetch_add(1, std::memory_order_relaxed);
  if (!electra::blas::sgemm(transposes(transb), transposes(transa), *n, *m, *k, *alpha, b, *ldb, a,
                            *lda, *beta, c, *ldc)) {
    // Unreachable where LibTorch linked: its own BLAS defines sgemm_. Never a silent no-op.
    std::fprintf(stderr, "internal error: sgemm_ called but no fp32 GEMM found in the process\n");
    std::abort();
  }
}
