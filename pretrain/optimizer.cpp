#include "pretrain/optimizer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "pretrain/adamw_cuda.h"
#include "pretrain/adamw_kernel.h"

namespace electra::pretrain {

bool decays(const std::string& name) {
  const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  return !is_bias && name.find("LayerNorm") == std::string::npos;
}

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions options,
             std::vector<double> lr_scale)
    : params_(std::move(params)), lr_scale_(std::move(lr_scale)), opt_(options) {
  ELECTRA_CHECK(lr_scale_.empty() || lr_scale_.size() == params_.size(), "lr_scale size");
  for (const auto& [name, p] : params_) {
    decay_.push_back(decays(name));
    exp_avg_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
  }
}

namespace {

bool fusable_on_cpu(const at::Tensor& p, const at::Tensor& g) {
  return p.is_cpu() && p.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat &&
         p.is_contiguous() && p.sizes() == g.sizes();
}

}  // namespace

void AdamW::step(double lr, const at::Tensor& skip_if) {
  torch::NoGradGuard no_grad;
#if ELECTRA_DEVICE_ADAMW
  if (!params_.empty() && params_.front().second.is_cuda() &&
      (ELECTRA_HAS_FUSED_ADAMW || cuda_adamw_enabled())) {
    ++step_;
    return step_cuda_fused(lr, skip_if);
  }
#endif
  if (skip_if.defined() && skip_if.item<double>() != 0.0) return;
  ++step_;
  const double bc1 = opt_.bias_correction ? 1.0 - std::pow(opt_.beta1, step_) : 1.0;
  const double bc2 = opt_.bias_correction ? 1.0 - std::pow(opt_.beta2, step_) : 1.0;
  const double bc2_sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const double plr = lr * lr_scale(i);
    const bool decay = decay_[i] && opt_.weight_decay != 0.0;
    if (fusable_on_cpu(p, g)) {
      const at::Tensor gc = g.contiguous();
      const detail::AdamWScalars s{static_cast<float>(opt_.beta1),
                                   static_cast<float>(opt_.beta2),
                                   static_cast<float>(1.0 - opt_.beta1),
                                   static_cast<float>(1.0 - opt_.beta2),
                                   static_cast<float>(decay ? 1.0 - plr * opt_.weight_decay : 1.0),
                                   static_cast<float>(bc2_sqrt),
                                   static_cast<float>(opt_.eps),
                                   static_cast<float>(plr / bc1)};
      detail::adamw_cpu(p.data_ptr<float>(), gc.data_ptr<float>(), exp_avg_[i].data_ptr<float>(),
                        exp_avg_sq_[i].data_ptr<float>(), p.numel(), s);
      // Written through its raw data: say so, as an in-place op would, so that whatever keeps
      // a copy of the weight (model/weight_cast.h) sees the change.
      p.unsafeGetTensorImpl()->bump_version();
      continue;
    }
    // Any other device or layout: the same update as tensor ops.
    // Decoupled weight decay first, exactly as torch.optim.AdamW.
    if (decay) p.mul_(1.0 - plr * opt_.weight_decay);
    exp_avg_[i].mul_(opt_.beta1).add_(g, 1.0 - opt_.beta1);
    exp_avg_sq_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
    at::Tensor denom = (exp_avg_sq_[i].sqrt() / bc2_sqrt).add_(opt_.eps);
    p.addcdiv_(exp_avg_[i], denom, -plr / bc1);
  }
}

#if ELECTRA_DEVICE_ADAMW
// On a GPU: a multi-tensor AdamW kernel, ATen's (LibTorch 2.1+) or ours (ELECTRA_CUDA_ADAMW=1),
// a handful of launches for all parameters instead of ~9 per parameter (a step of ELECTRA-Base
// has ~400 parameter tensors, and at ~10 us per launch the per-parameter loop alone took a third
// of an H100 step). One call per (decay, lr scale) group, since lr and weight decay are per call.
void AdamW::step_cuda_fused(double lr, const at::Tensor& skip_if) {
  if (!step_tensor_.defined())
    step_tensor_ = at::zeros({}, params_.front().second.options().dtype(at::kFloat));
  // The kernel derives the bias corrections from the step it reads: without bias correction a
  // step so large that beta^step underflows gives corrections of exactly 1.
  step_tensor_.fill_(opt_.bias_correction ? static_cast<double>(step_) : 1e9);
  at::Tensor found_inf;  // [] fp32, undefined without skip_if
  if (skip_if.defined()) {
    // The kernel returns at once where found_inf is 1; the count of applied updates, which
    // the bias corrections need, is the calls less the updates dropped so far.
    found_inf = skip_if.to(step_tensor_.device(), at::kFloat).reshape({});
    if (!device_skips_.defined()) device_skips_ = at::zeros_like(step_tensor_);
    device_skips_.add_(found_inf);
    if (opt_.bias_correction) step_tensor_.sub_(device_skips_);
  }
  struct Group {
    double lr_scale;
    bool decay;
    std::vector<at::Tensor> p, g, m, v;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const bool decay = decay_[i] && opt_.weight_decay != 0.0;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& gr) {
      return gr.lr_scale == lr_scale(i) && gr.decay == decay;
    });
    if (it == groups.end())
      it = groups.insert(groups.end(), Group{lr_scale(i), decay, {}, {}, {}, {}});
    it->p.push_back(p);
    it->g.push_back(p.grad());
    it->m.push_back(exp_avg_[i]);
    it->v.push_back(exp_avg_sq_[i]);
  }
  for (Group& gr : groups) {
    const double wd = gr.decay ? opt_.weight_decay : 0.0;
    const bool ours = cuda_adamw_enabled() && cuda_adamw_supports(gr.p, gr.g, gr.m, gr.v);
    ELECTRA_CHECK(ours || ELECTRA_HAS_FUSED_ADAMW,
                  "AdamW: the CUDA kernel does not take these parameters (fp32, contiguous, "
                  "16-byte aligned)");
    if (ours) {
      cuda_adamw(gr.p, gr.g, gr.m, gr.v,
                 {lr * gr.lr_scale, opt_.beta1, opt_.beta2, wd, opt_.eps, step_tensor_, found_inf});
      continue;
    }
#if ELECTRA_HAS_FUSED_ADAMW
    const std::vector<at::Tensor> steps(gr.p.size(), step_tensor_);
    // Two calls rather than one with an optional: LibTorch 2.1-2.3's c10::optional is not
    // 2.4+'s std::optional, and a Tensor converts to either.
    if (found_inf.defined())
      at::_fused_adamw_(gr.p, gr.g, gr.m, gr.v, /*max_exp_avg_sqs=*/{}, steps, lr * gr.lr_scale,
                        opt_.beta1, opt_.beta2, wd, opt_.eps, /*amsgrad=*/false,
                        /*maximize=*/false, /*grad_scale=*/{}, found_inf);
    else
      at::_fused_adamw_(gr.p, gr.g, gr.m, gr.v, /*max_exp_avg_sqs=*/{}, steps, lr * gr.lr_scale,
                        opt_.beta1, opt_.beta2, wd, opt_.eps, /*amsgrad=*/false,
                        /*maximize=*/false);
#endif
  }
}
#endif

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
}

model::TensorMap AdamW::state() const {
  model::TensorMap out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out["exp_avg." + params_[i].first] = exp_avg_[i];
    out["exp_avg_sq." + params_[i].first] = exp_avg_sq_[i];
  }
  return out;
}

void AdamW::load_state(const model::TensorMap& state, int64_t steps, const std::string& origin) {
  torch::NoGradGuard no_grad;
  ELECTRA_CHECK_USER(state.size() == 2 * params_.size(), origin, ": optimizer state has ",
                     state.size(), " tensors, expected ", 2 * params_.size(),
                     " (was the model config changed since this checkpoint?)");
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto [prefix, dst] : {std::pair<const char*, at::Tensor*>{"exp_avg.", &exp_avg_[i]},
                               {"exp_avg_sq.", &exp_avg_sq_[i]}}) {
      auto it = state.find(prefix + params_[i].first);
      ELECTRA_CHECK_USER(it != state.end(), origin, ": optimizer state lacks '", prefix,
                         params_[i].first, "'");
      ELECTRA_CHECK_USER(it->second.sizes() == dst->sizes(), origin, ": optimizer state '",
                         it->first, "' has shape ", it->second.sizes(), ", the model needs ",
                         dst->sizes());
      dst->copy_(it->second);
    }
  }
  step_ = steps;
}

double warmup_linear_lr(double peak, int64_t step, int64_t warmup, int64_t total) {
  if (warmup > 0 && step <= warmup) return peak * static_cast<double>(step) / warmup;
  if (total <= warmup) return peak;
  const double frac = static_cast<double>(total - step) / static_cast<double>(total - warmup);
  return peak * std::max(0.0, frac);
}

at::Tensor clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& params,
                          double max_norm, double inv_scale) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return at::zeros({}, at::kFloat);
  // Multi-tensor kernels on a GPU (a few launches instead of one per parameter); a loop on the
  // CPU. The per-tensor norms are fp32 whatever the gradients' dtype.
  std::vector<at::Tensor> norms = at::_foreach_norm(grads, 2);
  // Only where needed: even a cast to the same dtype is an operator for the host to dispatch,
  // and a step has hundreds of gradients.
  for (at::Tensor& n : norms)
    if (n.scalar_type() != at::kFloat) n = n.to(at::kFloat);
  at::Tensor total = at::stack(norms).norm(2);
  if (inv_scale != 1.0) total = total * inv_scale;  // the norm of the unscaled gradients
  at::Tensor coef;
  if (max_norm > 0) {
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when it is below 1.
    coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
    if (inv_scale != 1.0) coef = coef * inv_scale;
  } else if (inv_scale != 1.0) {
    coef = at::full({}, inv_scale, total.options());
  } else {
    return total;
  }
#if ELECTRA_HAS_FOREACH_TENSOR_MUL
  if (grads.front().is_cuda()) {
    at::_foreach_mul_(grads, coef);  // no host synchronisation, a few launches
    return total;
  }
#endif
  for (at::Tensor& g : grads)
    g.mul_(coef);
  return total;
}

}  // namespace electra::pretrain
