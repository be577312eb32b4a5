#include "common/blas.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace electra::blas {
namespace {

using CoreFn = char* (*)();
using ThreadsFn = int (*)();
using SetThreadsFn = void (*)(int);

std::string best_core() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SKYLAKEX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "HASWELL";
#endif
  return "";
}

// OpenBLAS kernel families older than AVX2: using them on an AVX2/AVX-512 CPU is a mistake.
bool is_legacy_core(const std::string& core) {
  for (const char* old : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                          "Coppermine", "Northwood", "Banias", "Sandybridge", "Bulldozer",
                          "Piledriver", "Opteron", "Barcelona", "Unknown"})
    if (strcasecmp(core.c_str(), old) == 0) return true;
  return false;
}

// Keep freed blocks for reuse instead of unmapping or trimming them (see
// maybe_reexec_for_fast_kernels): 64 GiB thresholds, far above any allocation of a step.
constexpr const char* kMallocTunables =
    "glibc.malloc.mmap_threshold=68719476736:glibc.malloc.trim_threshold=68719476736";

// Whether the user set glibc's malloc thresholds, in GLIBC_TUNABLES or the older variables.
bool malloc_settings_given() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(name)) return true;
  const char* t = std::getenv("GLIBC_TUNABLES");
  return t && (std::strstr(t, "glibc.malloc.mmap_threshold") ||
               std::strstr(t, "glibc.malloc.trim_threshold"));
}

}  // namespace

void* find_symbol(const char* name) {
  if (void* p = dlsym(RTLD_DEFAULT, name)) return p;
  // LibTorch links libblas.so.3, which Debian points at OpenBLAS; ask it directly too.
  for (const char* lib : {"libopenblas.so.0", "libblas.so.3"}) {
    if (void* h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD)) {
      if (void* p = dlsym(h, name)) return p;
    }
  }
  return nullptr;
}

Info info() {
  Info i;
  i.best_core = best_core();
  i.sgemm = sgemm_backend();
  if (const char* env = std::getenv("OPENBLAS_CORETYPE")) i.coretype_env = env;
  if (const char* re = std::getenv("ELECTRA_BLAS_REEXEC")) i.reexeced = std::strcmp(re, "1") == 0;
  if (const char* w = std::getenv("OMP_WAIT_POLICY")) i.omp_wait_policy = w;
  if (const char* t = std::getenv("GLIBC_TUNABLES")) i.glibc_tunables = t;
  if (const char* sc = std::getenv("GOMP_SPINCOUNT"))
    i.omp_wait_policy += std::string(" GOMP_SPINCOUNT=") + sc;
  auto core = reinterpret_cast<CoreFn>(find_symbol("openblas_get_corename"));
  if (!core) return i;
  i.library = "openblas";
  if (const char* c = core()) i.core = c;
  if (auto threads = reinterpret_cast<ThreadsFn>(find_symbol("openblas_get_num_threads")))
    i.threads = threads();
  return i;
}

void maybe_reexec_for_fast_kernels(int argc, char** argv) {
  (void)argc;
  if (std::getenv("ELECTRA_BLAS_REEXEC")) return;  // never loop
  if (const char* off = std::getenv("ELECTRA_NO_BLAS_FIX"); off && std::strcmp(off, "1") == 0)
    return;
  std::vector<const char*> set;
  const Info i = info();
  if (!std::getenv("OPENBLAS_CORETYPE") && i.library == "openblas" && !i.best_core.empty() &&
      is_legacy_core(i.core)) {
    setenv("OPENBLAS_CORETYPE", i.best_core.c_str(), 1);
    set.push_back("OPENBLAS_CORETYPE");
  }
  // libgomp's default wait policy spins for a while at the end of every parallel region. When
  // the cores are shared (another job, the data prefetch thread, OpenBLAS's own pool), a
  // spinning thread takes the core its peer needs to finish the region: measured on a loaded
  // 2-core machine, an ELECTRA-Small bf16 step took 31 s with the default policy and 2.9 s
  // with the passive one. Sleeping threads cost only a wake-up per region when cores are free.
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    set.push_back("OMP_WAIT_POLICY");
  }
  // glibc's malloc serves every allocation above its mmap threshold (128 KiB, rising with the
  // sizes freed, to 32 MiB at most) with a fresh mmap, and gives the top of its heap back to
  // the kernel past the trim threshold. A training step allocates and frees the same few
  // hundred MB of activations and gradients every step, so both make the kernel map and zero
  // them again: measured on ELECTRA-Small bf16 (batch 32), ~50k page faults a step and ~40%
  // of the process's system time. Past both thresholds the freed blocks stay in the heap and
  // the next step reuses them: ~0 faults a step after warm-up, and the same peak RSS. glibc
  // reads these only at start-up, and a user's own malloc settings win.
  const char* user_tunables = std::getenv("GLIBC_TUNABLES");
  const bool had_tunables = user_tunables != nullptr;
  const std::string kept_tunables = had_tunables ? user_tunables : "";
  if (!malloc_settings_given()) {
    const std::string tunables =
        (kept_tunables.empty() ? std::string() : kept_tunables + ":") + kMallocTunables;
    setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    set.push_back("GLIBC_TUNABLES");
  }
  if (set.empty()) return;
  setenv("ELECTRA_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed (e.g. no /proc): carry on as loaded rather than fail.
  for (const char* name : set)
    unsetenv(name);
  if (had_tunables) setenv("GLIBC_TUNABLES", kept_tunables.c_str(), 1);
}

void set_threads(int n) {
  // Looked up once: a dlsym over LibTorch's symbol tables costs microseconds, and
  // OneBlasThread calls this twice per fused-attention call.
  static const auto set = reinterpret_cast<SetThreadsFn>(find_symbol("openblas_set_num_threads"));
  if (set) set(n);
}

OneBlasThread::OneBlasThread() {
  static const auto get = reinterpret_cast<ThreadsFn>(find_symbol("openblas_get_num_threads"));
  if (!get) return;
  previous_ = get();
  if (previous_ > 1)
    set_threads(1);
  else
    previous_ = 0;
}

OneBlasThread::~OneBlasThread() {
  if (previous_ > 1) set_threads(previous_);
}

}  // namespace electra::blas
