// The fp32 master weights cast to the compute dtype once per forward, by one autograd node whose
// backward casts all their gradients back together.
//
// Without it every product casts its weight itself (`w.to(bf16)`) and every weight gradient is
// cast back to fp32 by itself: on a GPU ~430 small kernels per RTD step of ELECTRA-Base, 1.5 ms
// of an H200's 35 ms step, mostly per-kernel cost (the bytes are ~0.15 ms each way). Here the
// parameters are cast into one buffer by a few multi-tensor launches (model/cuda/
// multi_cast_kernels.h; elsewhere a copy per tensor), handed out as aliases of it, and their
// gradients are cast back the same way. The values and gradients are the bits of the
// per-product casts: a parameter's first use gets the scope's cast, a later use in the same
// forward casts by itself, so two uses' gradients still meet in fp32, as they did.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

namespace electra::model {

// Whether training steps on CUDA in bf16/fp16 use a scope: the environment variable
// ELECTRA_CUDA_CAST_ONCE not "0" (the switch for A/B runs; read once).
bool param_cast_enabled();

// While a scope lives (on this thread), scoped_cast(p, dt) gives the scope's cast of p once.
// The scope casts the contiguous fp32 tensors of `params` at construction; their gradients flow
// back through one node (a parameter whose cast is not used gets none from it). Scopes nest: an
// inner one hides the outer one until it ends. dt == kFloat or no such parameter installs
// nothing.
class ParamCastScope {
 public:
  ParamCastScope(const std::vector<at::Tensor>& params, at::ScalarType dt);
  ~ParamCastScope();
  ParamCastScope(const ParamCastScope&) = delete;
  ParamCastScope& operator=(const ParamCastScope&) = delete;

  // A tensor over the casts' memory (undefined when the scope installed nothing): while it
  // lives, that memory is not freed, whatever becomes of the casts.
  at::Tensor memory() const;

  struct State;  // the casts, by parameter (param_cast.cpp)

 private:
  State* state_ = nullptr;
  State* outer_ = nullptr;
};

// The enclosing scope's cast of p to dt, the first time it is asked for; else an undefined
// tensor (no scope, p not in it, another dtype, or asked before), and the caller casts as it
// would without a scope.
at::Tensor scoped_cast(const at::Tensor& p, at::ScalarType dt);

// scoped_cast(p, dt), or else p.to(dt).
at::Tensor cast_param(const at::Tensor& p, at::ScalarType dt);

}  // namespace electra::model
