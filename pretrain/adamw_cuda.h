// The CUDA AdamW of pretrain/optimizer.h over model/cuda/adamw_kernels.h, in CUDA builds with
// ELECTRA_CUDA_KERNELS; elsewhere nothing is supported.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

namespace electra::pretrain {

// Whether AdamW::step uses it for CUDA parameters: the build has the kernels and the
// environment variable ELECTRA_CUDA_ADAMW is "1" (opt-in until measured on a GPU; read once).
bool cuda_adamw_enabled();

// Whether cuda_adamw takes these: fp32 CUDA tensors on one device, p[i], g[i], m[i] and v[i] of
// one size, contiguous and 16-byte aligned.
bool cuda_adamw_supports(const std::vector<at::Tensor>& p, const std::vector<at::Tensor>& g,
                         const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v);

struct CudaAdamWArgs {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, weight_decay = 0, eps = 1e-6;
  at::Tensor step;       // [] fp32 on the device: the update count the bias corrections use
  at::Tensor found_inf;  // [] fp32 on the device, optional: 1 = change nothing
};

// One AdamW update of every p[i] in place, with the moments m[i] and v[i], in the CPU pass's
// arithmetic (pretrain/adamw_kernel.h); a few launches, nothing read on the host.
void cuda_adamw(const std::vector<at::Tensor>& p, const std::vector<at::Tensor>& g,
                const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v,
                const CudaAdamWArgs& args);

}  // namespace electra::pretrain
