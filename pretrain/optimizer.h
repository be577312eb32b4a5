// AdamW with decoupled weight decay (torch.optim.AdamW semantics), parameter groups that
// exempt biases and LayerNorm weights from decay, and the warm-up + linear-decay schedule.
// Its state is plain named tensors so checkpoints store it as safetensors.
#pragma once

#include <ATen/Tensor.h>
#include <torch/version.h>

#include <string>
#include <utility>
#include <vector>

#include "model/safetensors.h"

// ATen's multi-tensor AdamW (CUDA) and the foreach multiply by a tensor scalar: LibTorch 2.1+.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define ELECTRA_HAS_FUSED_ADAMW 1
#define ELECTRA_HAS_FOREACH_TENSOR_MUL 1
#else
#define ELECTRA_HAS_FUSED_ADAMW 0
#define ELECTRA_HAS_FOREACH_TENSOR_MUL 0
#endif
// A step of CUDA parameters that reads nothing on the host: ATen's kernel or ours
// (pretrain/adamw_cuda.h, builds with the CUDA kernels).
#if ELECTRA_HAS_FUSED_ADAMW || defined(ELECTRA_CUDA_KERNELS)
#define ELECTRA_DEVICE_ADAMW 1
#else
#define ELECTRA_DEVICE_ADAMW 0
#endif

namespace electra::pretrain {

struct AdamWOptions {
  double lr = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  double weight_decay = 0.01;
  bool bias_correction = true;
};

// HF/ELECTRA convention: no weight decay on biases and LayerNorm parameters.
bool decays(const std::string& param_name);

class AdamW {
 public:
  // `params`: (name, parameter) pairs; each parameter once. `lr_scale` (optional, same length)
  // multiplies the learning rate per parameter (layer-wise decay in fine-tuning).
  AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions options,
        std::vector<double> lr_scale = {});

  // One update with learning rate `lr` for every parameter that has a gradient. fp32 CPU
  // parameters take one fused pass each; CUDA parameters ATen's multi-tensor kernel (LibTorch
  // 2.1+), or ours with ELECTRA_CUDA_ADAMW=1 (pretrain/adamw_cuda.h); anything else the same
  // update as tensor ops.
  //
  // `skip_if` (optional): a [] fp32 tensor, 1 = leave the parameters, the moments and the
  // bias-correction count as they are (a non-finite gradient, see step.h nonfinite_flag). On
  // the fused CUDA path the kernel reads it on the device, so the host never waits for the
  // step's gradients; steps() then counts the calls, device_skips() the updates dropped.
  // Elsewhere it is read on the host and a skipped call is not counted at all.
  void step(double lr, const at::Tensor& skip_if = at::Tensor());
  void zero_grad();
  int64_t steps() const { return step_; }
  // [] fp32: the updates the fused CUDA kernel dropped for skip_if (undefined before any).
  at::Tensor device_skips() const { return device_skips_; }

  // exp_avg.<name>, exp_avg_sq.<name>; the step count goes in the trainer state.
  model::TensorMap state() const;
  void load_state(const model::TensorMap& state, int64_t steps, const std::string& origin);

  const std::vector<std::pair<std::string, at::Tensor>>& params() const { return params_; }
  double lr_scale(size_t i) const { return lr_scale_.empty() ? 1.0 : lr_scale_[i]; }

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<bool> decay_;
  std::vector<double> lr_scale_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  AdamWOptions opt_;
  int64_t step_ = 0;
  at::Tensor device_skips_;
#if ELECTRA_DEVICE_ADAMW
  void step_cuda_fused(double lr, const at::Tensor& skip_if);
  at::Tensor step_tensor_;  // [] fp32 on the parameters' device: the kernel reads the step
#endif
};

// Linear warm-up to `peak` over `warmup` steps, then linear decay to 0 at `total` steps.
// `step` is the 1-based number of the optimizer step about to be taken.
double warmup_linear_lr(double peak, int64_t step, int64_t warmup, int64_t total);

// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the norm
// before clipping (as a tensor: no synchronisation). `inv_scale` first unscales gradients of a
// scaled loss (fp16 loss scaling, pretrain/loss_scaler.h): the norm returned and clipped is
// that of the gradients times inv_scale, and they are multiplied in the same single pass.
at::Tensor clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& params,
                          double max_norm, double inv_scale = 1.0);

}  // namespace electra::pretrain
