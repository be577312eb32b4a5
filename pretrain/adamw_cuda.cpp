#include "pretrain/adamw_cuda.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

#include "common/env_switch.h"
#include "common/error.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/adamw_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::pretrain {

#if defined(ELECTRA_CUDA_KERNELS)

bool cuda_adamw_enabled() {
  static const bool on = env_switch_opted_in("ELECTRA_CUDA_ADAMW");
  return on;
}

bool cuda_adamw_supports(const std::vector<at::Tensor>& p, const std::vector<at::Tensor>& g,
                         const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v) {
  if (p.empty() || g.size() != p.size() || m.size() != p.size() || v.size() != p.size())
    return false;
  const at::Device device = p.front().device();
  const auto ok = [&](const at::Tensor& t, int64_t n) {
    return t.defined() && t.device() == device && t.scalar_type() == at::kFloat &&
           t.is_contiguous() && t.numel() == n &&
           reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
  };
  if (!device.is_cuda()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    const int64_t n = p[i].numel();
    if (!ok(p[i], n) || !ok(g[i], n) || !ok(m[i], n) || !ok(v[i], n)) return false;
  }
  return true;
}

void cuda_adamw(const std::vector<at::Tensor>& p, const std::vector<at::Tensor>& g,
                const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v,
                const CudaAdamWArgs& args) {
  ELECTRA_CHECK(cuda_adamw_supports(p, g, m, v), "cuda_adamw: unsupported tensors");
  ELECTRA_CHECK(args.step.defined() && args.step.numel() == 1 &&
                    args.step.scalar_type() == at::kFloat && args.step.device() == p[0].device(),
                "cuda_adamw: the step must be a [] fp32 tensor on the parameters' device");
  ELECTRA_CHECK(!args.found_inf.defined() ||
                    (args.found_inf.numel() == 1 && args.found_inf.scalar_type() == at::kFloat &&
                     args.found_inf.device() == p[0].device()),
                "cuda_adamw: found_inf must be a [] fp32 tensor on the parameters' device");
  const c10::cuda::CUDAGuard guard(p[0].device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  for (size_t first = 0; first < p.size(); first += model::cuda::kMultiAdamWMax) {
    model::cuda::MultiAdamW a;
    a.count = static_cast<int>(std::min<size_t>(model::cuda::kMultiAdamWMax, p.size() - first));
    for (int t = 0; t < a.count; ++t) {
      const size_t i = first + static_cast<size_t>(t);
      a.p[t] = p[i].data_ptr<float>();
      a.g[t] = g[i].data_ptr<float>();
      a.m[t] = m[i].data_ptr<float>();
      a.v[t] = v[i].data_ptr<float>();
      a.n[t] = p[i].numel();
    }
    a.lr = args.lr;
    a.beta1 = args.beta1;
    a.beta2 = args.beta2;
    a.weight_decay = args.weight_decay;
    a.eps = args.eps;
    a.step = args.step.data_ptr<float>();
    a.found_inf = args.found_inf.defined() ? args.found_inf.data_ptr<float>() : nullptr;
    model::cuda::check_launch(model::cuda::multi_adamw(a, stream), "multi_adamw");
  }
  // Written through raw pointers: say so, as an in-place op would, so that whatever keeps a copy
  // of a weight (model/weight_cast.h) sees the change.
  for (const at::Tensor& t : p)
    t.unsafeGetTensorImpl()->bump_version();
}

#else

bool cuda_adamw_enabled() {
  return false;
}

bool cuda_adamw_supports(const std::vector<at::Tensor>&, const std::vector<at::Tensor>&,
                         const std::vector<at::Tensor>&, const std::vector<at::Tensor>&) {
  return false;
}

void cuda_adamw(const std::vector<at::Tensor>&, const std::vector<at::Tensor>&,
                const std::vector<at::Tensor>&, const std::vector<at::Tensor>&,
                const CudaAdamWArgs&) {
  throw std::runtime_error("cuda_adamw: this electra was built without the CUDA kernels");
}

#endif

}  // namespace electra::pretrain
