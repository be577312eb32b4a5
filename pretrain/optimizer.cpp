#include "pretrain/optimizer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <cmath>

#include "common/error.h"

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

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double bc1 = opt_.bias_correction ? 1.0 - std::pow(opt_.beta1, step_) : 1.0;
  const double bc2 = opt_.bias_correction ? 1.0 - std::pow(opt_.beta2, step_) : 1.0;
  const double bc2_sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const double plr = lr * lr_scale(i);
    // Decoupled weight decay first, exactly as torch.optim.AdamW.
    if (decay_[i] && opt_.weight_decay != 0.0) p.mul_(1.0 - plr * opt_.weight_decay);
    exp_avg_[i].mul_(opt_.beta1).add_(g, 1.0 - opt_.beta1);
    exp_avg_sq_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
    at::Tensor denom = (exp_avg_sq_[i].sqrt() / bc2_sqrt).add_(opt_.eps);
    p.addcdiv_(exp_avg_[i], denom, -plr / bc1);
  }
}

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
  std::vector<at::Tensor> norms;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(at::kFloat));
  if (norms.empty()) return at::zeros({}, at::kFloat);
  at::Tensor total = at::stack(norms).norm(2);
  if (inv_scale != 1.0) total = total * inv_scale;  // the norm of the unscaled gradients
  if (max_norm > 0) {
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when it is below 1.
    at::Tensor coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
    if (inv_scale != 1.0) coef = coef * inv_scale;
    for (const auto& [name, p] : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  } else if (inv_scale != 1.0) {
    for (const auto& [name, p] : params)
      if (p.grad().defined()) p.grad().mul_(inv_scale);
  }
  return total;
}

}  // namespace electra::pretrain
