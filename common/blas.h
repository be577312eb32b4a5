// The BLAS under LibTorch's fp32 matmuls, and making it fast without the user knowing.
//
// Debian's LibTorch 1.13 runs fp32 GEMMs through OpenBLAS 0.3.21, which does not recognise
// recent Xeons and falls back to its "Prescott" (SSE3) kernels: about 25 GFLOP/s instead of
// 120-145 with the SKYLAKEX (AVX-512) kernels on the same core. OpenBLAS picks its kernels
// when the library is loaded, before main() runs, and only reads OPENBLAS_CORETYPE then. So
// the first thing `electra` does is to check what OpenBLAS chose and, if the CPU can do better,
// re-execute itself once with OPENBLAS_CORETYPE set (and nothing else changed). Where the
// process also has oneDNN (Debian's LibTorch links it), the fp32 GEMMs themselves go there
// instead, which is faster still (sgemm() below, common/sgemm.cpp); OpenBLAS keeps the rest.
#pragma once

#include <cstdint>
#include <string>

namespace electra::blas {

struct Info {
  std::string library = "unknown";  // "openblas" when its symbols are found
  std::string core;                 // OpenBLAS's kernel family, e.g. "SkylakeX"
  int threads = 0;                  // OpenBLAS threads (0 when unknown)
  std::string coretype_env;         // OPENBLAS_CORETYPE as set for this process ("" if unset)
  bool reexeced = false;            // this process was re-executed with the settings below
  std::string omp_wait_policy;      // OMP_WAIT_POLICY (and GOMP_SPINCOUNT) as set ("" if unset)
  std::string glibc_tunables;       // GLIBC_TUNABLES as set ("" if unset): malloc's thresholds
  std::string best_core;            // what this CPU supports: "SKYLAKEX", "HASWELL" or ""
  std::string sgemm;                // sgemm_backend(): who runs the fp32 GEMMs
};

Info info();

// A symbol of the BLAS under LibTorch (OpenBLAS on Debian: "openblas_get_corename", ...), or
// null: looked up in the process, then in an already loaded libopenblas.so.0 / libblas.so.3. A
// lookup walks LibTorch's symbol tables (microseconds): callers keep the result. Not for
// "sgemm_", which the process finds in common/sgemm.cpp first: call sgemm() below instead.
void* find_symbol(const char* name);

// Re-executes the process once, with nothing else changed, when a library read its settings
// at load time and they are wrong for this machine: OPENBLAS_CORETYPE=best_core when OpenBLAS
// loaded slower kernels than the CPU supports, OMP_WAIT_POLICY=PASSIVE (see blas.cpp)
// unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, and GLIBC_TUNABLES with malloc thresholds
// that keep freed memory for reuse unless the user set malloc's thresholds. Variables the user
// set are kept. Does nothing with ELECTRA_NO_BLAS_FIX=1 or when already re-executed. Call it
// first in main().
void maybe_reexec_for_fast_kernels(int argc, char** argv);

// Row-major fp32 C[m, n] = alpha op(A) op(B) + beta C (op(A): [m, k], stored [k, m] when ta;
// lda, ldb, ldc are row strides) on the fastest GEMM in the process: oneDNN's when LibTorch
// links libdnnl (Debian's does), else the BLAS's sgemm_. False when the process has neither.
// LibTorch's own fp32 matmuls take the same route (common/sgemm.cpp).
bool sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Row-major fp32 C[m, n] = alpha op(A) op(B) + beta C from bf16 A and B (their raw bits; the
// same arguments as sgemm()) on oneDNN's dnnl_gemm_bf16bf16f32, which accumulates in fp32 and
// writes fp32: a bf16 product whose result is wanted in fp32 (a weight's gradient) without
// ATen's bf16 output and a cast. False where the process has no oneDNN, or oneDNN refused the
// arguments; C is then untouched.
bool gemm_bf16(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const uint16_t* a,
               int64_t lda, const uint16_t* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Whether gemm_bf16() has oneDNN's GEMM to run on.
bool have_gemm_bf16();

// Which GEMM sgemm() and LibTorch's fp32 matmuls use: "onednn", "blas" (ELECTRA_SGEMM=openblas,
// or no libdnnl in the process) or "" (none found).
const char* sgemm_backend();

// Whether sgemm() has a GEMM to run on (sgemm_backend() is not "").
bool have_sgemm();

// The message for an ELECTRA_SGEMM that is neither "onednn" nor "openblas", else "".
std::string sgemm_env_error();

// How many of LibTorch's sgemm_ calls this process routed so far (a relaxed counter: the proof
// that the interposer is the symbol LibTorch binds to, for tests and diagnostics).
uint64_t interposed_sgemm_calls();

// Sets OpenBLAS's own thread count (its pthread pool is separate from LibTorch's OpenMP
// threads; the two fighting over the same cores is slower than either alone).
void set_threads(int n);

// OpenBLAS on one thread for the guard's lifetime, then its old count again: for a kernel that
// calls the BLAS from several threads of its own. (Concurrent calls into OpenBLAS with a pool
// of two threads were 2x slower than calls into one thread each: model/cpu_attention.cpp.)
// Does nothing without OpenBLAS.
class OneBlasThread {
 public:
  OneBlasThread();
  ~OneBlasThread();
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int previous_ = 0;  // 0: nothing to restore
};

}  // namespace electra::blas
