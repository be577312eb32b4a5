#include "pretrain/profile.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <atomic>
#include <cstring>
#include <set>

#include "common/error.h"

namespace electra::pretrain {

namespace {

namespace prof = torch::profiler::impl;

std::set<prof::ActivityType> activities(bool cuda) {
  std::set<prof::ActivityType> a{prof::ActivityType::CPU};
  if (cuda) a.insert(prof::ActivityType::CUDA);
  return a;
}

// Runs `fn` under Kineto and saves the trace. Throws c10::Error where this LibTorch has no
// Kineto: Debian's 1.13 enables the profiler and fails only in save().
void kineto_to_file(const std::string& path, bool cuda, const std::function<void()>& fn) {
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  torch::autograd::profiler::prepareProfiler(config, activities(cuda));
  torch::autograd::profiler::enableProfiler(config, activities(cuda));
  fn();
  torch::autograd::profiler::disableProfiler()->save(path);
}

// Whether Kineto can write a trace here, asked once with an empty trace written to `path`
// (the real trace overwrites it).
bool kineto_works(const std::string& path, bool cuda) {
  static const bool works = [&] {
    try {
      kineto_to_file(path, cuda, [] {});
      return true;
    } catch (const c10::Error&) {
      return false;
    }
  }();
  return works;
}

}  // namespace

void profile_to_file(const std::string& path, bool cuda, const std::function<void()>& fn) {
  if (kineto_works(path, cuda)) {
    kineto_to_file(path, cuda, fn);
    return;
  }
  // Without Kineto only the host's operators can be timed, which on a CPU is everything:
  // the legacy profiler writes them as the same Chrome-trace "X" events (without a "cat").
  ELECTRA_CHECK_USER(!cuda,
                     "--profile: this LibTorch has no Kineto, so it cannot trace CUDA kernels; "
                     "use one built with Kineto, such as the PyTorch wheels' LibTorch");
  torch::autograd::profiler::RecordProfile guard(path);
  fn();
}

int64_t count_aten_ops(const std::function<void()>& fn, const char* only) {
  // A callback is a plain function: its state lives here.
  static std::atomic<int64_t> count{0};
  static const char* name = nullptr;
  count = 0;
  name = only;
  const at::CallbackHandle handle =
      at::addGlobalCallback(at::RecordFunctionCallback([](const at::RecordFunction& f)
                                                           -> std::unique_ptr<at::ObserverContext> {
                              if (!name || std::strcmp(f.name(), name) == 0)
                                count.fetch_add(1, std::memory_order_relaxed);
                              return nullptr;
                            }).scopes({at::RecordScope::FUNCTION}));
  fn();
  at::removeCallback(handle);
  return count.load();
}

}  // namespace electra::pretrain
