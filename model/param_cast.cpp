#include "model/param_cast.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <unordered_map>

namespace electra::model {

struct ParamCastScope::State {
  at::ScalarType dt;
  std::unordered_map<const c10::TensorImpl*, at::Tensor> casts;  // parameter -> its cast
};

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

thread_local ParamCastScope::State* current = nullptr;

// A tensor of `sizes` over `base`'s elements from `offset` on, sharing and keeping alive its
// memory, made without dispatching an operator: a narrow and a view per alias would be two per
// parameter, the kind of host work this file exists to remove.
at::Tensor alias(const at::Tensor& base, int64_t offset, at::IntArrayRef sizes) {
  char* data = static_cast<char*>(base.data_ptr()) + offset * base.element_size();
  return at::for_blob(data, sizes)
      .deleter([keep = base](void*) {})
      .options(base.options())
      .target_device(base.device())
      .make_tensor();
}

// t's elements as one row, in row-major order (an alias when t is contiguous).
at::Tensor flat(const at::Tensor& t) {
  return t.is_contiguous() ? alias(t, 0, {t.numel()}) : t.contiguous().view({-1});
}

// params (fp32) -> their casts to dt, aliases of one [total] tensor; backward: the gradients
// that arrived, joined, cast to fp32 in one pass and handed back as aliases.
struct CastAll : public torch::autograd::Function<CastAll> {
  static variable_list forward(AutogradContext* ctx, at::ScalarType dt, at::TensorList params) {
    // An unused cast's gradient stays undefined instead of becoming a tensor of zeros.
    ctx->set_materialize_grads(false);
    std::vector<at::Tensor> parts;
    parts.reserve(params.size());
    for (const at::Tensor& p : params)
      parts.push_back(flat(p));
    const at::Tensor low = at::cat(parts).to(dt);  // [total] in dt
    variable_list out;
    out.reserve(params.size());
    int64_t offset = 0;
    for (const at::Tensor& p : params) {
      out.push_back(alias(low, offset, p.sizes()));
      offset += p.numel();
    }
    return out;
  }

  static variable_list backward(AutogradContext*, variable_list grads) {
    variable_list out(grads.size() + 1);  // the dtype argument's (none), then one per parameter
    std::vector<at::Tensor> parts;
    for (const at::Tensor& g : grads)
      if (g.defined()) parts.push_back(flat(g));
    if (parts.empty()) return out;
    const at::Tensor full = at::cat(parts).to(at::kFloat);  // [used total] fp32
    int64_t offset = 0;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      out[i + 1] = alias(full, offset, grads[i].sizes());
      offset += grads[i].numel();
    }
    return out;
  }
};

}  // namespace

ParamCastScope::ParamCastScope(const std::vector<at::Tensor>& params, at::ScalarType dt) {
  if (dt == at::kFloat) return;
  // Contiguous ones only: the casts are contiguous aliases, and a strided parameter's own cast
  // keeps its strides, which can choose another GEMM kernel (other roundings). Every parameter
  // of the models is contiguous.
  std::vector<at::Tensor> fp32;
  for (const at::Tensor& p : params)
    if (p.defined() && p.scalar_type() == at::kFloat && p.numel() > 0 && p.is_contiguous())
      fp32.push_back(p);
  if (fp32.empty()) return;
  state_ = new State{dt, {}};
  const variable_list casts = CastAll::apply(dt, at::TensorList(fp32));
  for (size_t i = 0; i < fp32.size(); ++i)
    state_->casts.emplace(fp32[i].unsafeGetTensorImpl(), casts[i]);
  outer_ = current;
  current = state_;
}

ParamCastScope::~ParamCastScope() {
  if (!state_) return;
  current = outer_;
  delete state_;
}

at::Tensor cast_param(const at::Tensor& p, at::ScalarType dt) {
  if (current && current->dt == dt) {
    const auto it = current->casts.find(p.unsafeGetTensorImpl());
    if (it != current->casts.end()) return it->second;
  }
  return p.to(dt);
}

}  // namespace electra::model
