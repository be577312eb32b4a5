#include "model/param_cast.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <unordered_map>

#include "common/env_switch.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/multi_cast_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::model {

struct ParamCastScope::State {
  at::ScalarType dt;
  std::unordered_map<const c10::TensorImpl*, at::Tensor> casts;  // parameter -> its cast, once
  at::Tensor memory;  // one cast, detached: its alias keeps the joined buffer
};

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

thread_local ParamCastScope::State* current = nullptr;

// Offsets into the joined buffers are rounded up to 8 elements, so that every part starts on
// 16 bytes (32 for fp32), as the multi-tensor kernel's vector accesses need.
constexpr int64_t kAlign = 8;

int64_t padded(int64_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

// A tensor of `sizes` over `base`'s elements from `offset` on, sharing and keeping alive its
// memory, made without dispatching an operator (a narrow and a view per part would be two).
at::Tensor alias(const at::Tensor& base, int64_t offset, at::IntArrayRef sizes) {
  char* data = static_cast<char*>(base.data_ptr()) + offset * base.element_size();
  return at::for_blob(data, sizes)
      .deleter([keep = base](void*) {})
      .options(base.options())
      .target_device(base.device())
      .make_tensor();
}

// dst[i] (contiguous parts of one buffer) = src[i] converted to dst's dtype. On CUDA the
// contiguous, 16-byte aligned sources go through the multi-tensor kernel, 64 per launch;
// everything else, and every source elsewhere, is one copy_ each.
void cast_into(const std::vector<at::Tensor>& src, const std::vector<at::Tensor>& dst) {
  std::vector<size_t> rest;
#if defined(ELECTRA_CUDA_KERNELS)
  std::vector<size_t> fast;
  for (size_t i = 0; i < src.size(); ++i) {
    const at::Tensor &s = src[i], &d = dst[i];
    // One device per call (the launches' guard and stream are the first fast pair's).
    const bool ok = s.is_cuda() && s.device() == d.device() &&
                    (fast.empty() || d.device() == dst[fast[0]].device()) && s.is_contiguous() &&
                    reinterpret_cast<std::uintptr_t>(s.data_ptr()) % 16 == 0 &&
                    (s.scalar_type() == at::kFloat) != (d.scalar_type() == at::kFloat) &&
                    cuda::has_elem(s.scalar_type()) && cuda::has_elem(d.scalar_type());
    (ok ? fast : rest).push_back(i);
  }
  if (!fast.empty()) {
    const c10::cuda::CUDAGuard guard(dst[fast[0]].device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    // One launch per element-type pair and up to 64 tensors.
    for (size_t k = 0; k < fast.size();) {
      cuda::MultiCast a;
      a.src_elem = cuda::elem_of(src[fast[k]].scalar_type());
      a.dst_elem = cuda::elem_of(dst[fast[k]].scalar_type());
      for (; k < fast.size() && a.count < cuda::kMultiCastMax; ++k) {
        const at::Tensor &s = src[fast[k]], &d = dst[fast[k]];
        if (cuda::elem_of(s.scalar_type()) != a.src_elem ||
            cuda::elem_of(d.scalar_type()) != a.dst_elem)
          break;
        a.src[a.count] = s.data_ptr();
        a.dst[a.count] = d.data_ptr();
        a.n[a.count] = s.numel();
        ++a.count;
      }
      cuda::check_launch(cuda::multi_cast(a, stream), "multi_cast");
    }
  }
#else
  for (size_t i = 0; i < src.size(); ++i)
    rest.push_back(i);
#endif
  for (const size_t i : rest)
    dst[i].copy_(src[i].reshape(dst[i].sizes()));
}

// src converted to `to`, as aliases of one new buffer (each part at an offset rounded up to
// kAlign elements), on src's device; src is not empty.
std::vector<at::Tensor> cast_joined(const std::vector<at::Tensor>& src, at::ScalarType to) {
  int64_t total = 0;
  for (const at::Tensor& t : src)
    total += padded(t.numel());
  const at::Tensor buffer = at::empty({total}, src[0].options().dtype(to));  // [total]
  std::vector<at::Tensor> out;
  out.reserve(src.size());
  int64_t offset = 0;
  for (const at::Tensor& t : src) {
    out.push_back(alias(buffer, offset, t.sizes()));
    offset += padded(t.numel());
  }
  cast_into(src, out);
  return out;
}

// params (fp32) -> their casts to dt, aliases of one buffer; backward: the gradients that
// arrived, cast to fp32 into one buffer and handed back as aliases of it.
struct CastAll : public torch::autograd::Function<CastAll> {
  static variable_list forward(AutogradContext* ctx, at::ScalarType dt, at::TensorList params) {
    // An unused cast's gradient stays undefined instead of becoming a tensor of zeros.
    ctx->set_materialize_grads(false);
    return cast_joined(params.vec(), dt);
  }

  static variable_list backward(AutogradContext*, variable_list grads) {
    variable_list out(grads.size() + 1);  // the dtype argument's (none), then one per parameter
    std::vector<at::Tensor> arrived;
    std::vector<size_t> index;  // arrived[k] is the gradient of parameter index[k]
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      arrived.push_back(grads[i]);
      index.push_back(i);
    }
    if (arrived.empty()) return out;
    const std::vector<at::Tensor> fp32 = cast_joined(arrived, at::kFloat);
    for (size_t k = 0; k < fp32.size(); ++k)
      out[index[k] + 1] = fp32[k];
    return out;
  }
};

}  // namespace

bool param_cast_enabled() {
  static const bool on = env_switch_on("ELECTRA_CUDA_CAST_ONCE");
  return on;
}

ParamCastScope::ParamCastScope(const std::vector<at::Tensor>& params, at::ScalarType dt) {
  if (dt == at::kFloat) return;
  // Contiguous ones only: a cast here is contiguous, and a strided parameter's own cast keeps
  // its strides, which can choose another GEMM kernel (other roundings). Every parameter of the
  // models is contiguous.
  std::vector<at::Tensor> fp32;
  for (const at::Tensor& p : params)
    if (p.defined() && p.scalar_type() == at::kFloat && p.numel() > 0 && p.is_contiguous())
      fp32.push_back(p);
  if (fp32.empty()) return;
  state_ = new State{dt, {}, {}};
  const variable_list casts = CastAll::apply(dt, at::TensorList(fp32));
  state_->memory = casts[0].detach();
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

at::Tensor ParamCastScope::memory() const {
  return state_ ? state_->memory : at::Tensor();
}

at::Tensor scoped_cast(const at::Tensor& p, at::ScalarType dt) {
  if (!current || current->dt != dt || !p.defined()) return {};
  const auto it = current->casts.find(p.unsafeGetTensorImpl());
  if (it == current->casts.end()) return {};
  // Handed out once: a second use casts by itself, so that the two uses' gradients are summed
  // in fp32 by autograd, as without a scope, not in dt into this cast's gradient.
  at::Tensor cast = std::move(it->second);
  current->casts.erase(it);
  return cast;
}

at::Tensor cast_param(const at::Tensor& p, at::ScalarType dt) {
  at::Tensor cast = scoped_cast(p, dt);
  return cast.defined() ? cast : p.to(dt);
}

}  // namespace electra::model
