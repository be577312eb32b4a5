#include "pretrain/profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <set>

#include "common/error.h"

namespace electra::pretrain {

void profile_to_file(const std::string& path, bool cuda, const std::function<void()>& fn) {
  namespace prof = torch::profiler::impl;
  std::set<prof::ActivityType> activities{prof::ActivityType::CPU};
  if (cuda) activities.insert(prof::ActivityType::CUDA);
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  const auto fail = [](const c10::Error& e) {
    return UserError(cat("--profile: this LibTorch cannot write a trace (",
                         e.what_without_backtrace(),
                         "); use one built with Kineto, such as the PyTorch wheels' LibTorch"));
  };
  try {
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
  } catch (const c10::Error& e) {
    throw fail(e);
  }
  fn();
  std::unique_ptr<torch::autograd::profiler::ProfilerResult> result =
      torch::autograd::profiler::disableProfiler();
  try {
    result->save(path);  // Debian's 1.13 gets this far and fails here
  } catch (const c10::Error& e) {
    throw fail(e);
  }
}

}  // namespace electra::pretrain
