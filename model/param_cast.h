// The fp32 master weights cast to the compute dtype in one pass per forward, with one autograd
// node whose backward casts all their gradients back in one pass.
//
// Without it every matmul casts its weight and bias itself (`w.to(bf16)`): on a GPU that is
// ~200 casts per RTD step of ELECTRA-Base, each four dispatched operators and a kernel forward,
// and an autograd node with four more and a kernel in backward, about a fifth of the host time
// of a step whose host, not its device, sets the pace (README, "Building for GPUs"). Here the
// parameters are gathered (one cat), cast (one kernel), and handed out as aliases of the result
// that dispatch nothing; backward does the same in reverse. The values are the same bits as the
// per-matmul casts'.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

namespace electra::model {

// While a scope lives (on this thread), cast_param(p, dt) returns the scope's cast of p. The
// scope casts the contiguous fp32 tensors of `params` once, at construction (the others are
// cast where used, as outside a scope); their gradients flow back through one node (a
// parameter whose cast is not used gets none). Scopes
// nest: an inner one hides the outer one until it ends. dt == kFloat or no parameters install
// nothing.
class ParamCastScope {
 public:
  ParamCastScope(const std::vector<at::Tensor>& params, at::ScalarType dt);
  ~ParamCastScope();
  ParamCastScope(const ParamCastScope&) = delete;
  ParamCastScope& operator=(const ParamCastScope&) = delete;

  struct State;  // the casts, by parameter (param_cast.cpp)

 private:
  State* state_ = nullptr;
  State* outer_ = nullptr;
};

// p cast to dt: the enclosing ParamCastScope's cast when it has p in dt, else p.to(dt).
at::Tensor cast_param(const at::Tensor& p, at::ScalarType dt);

}  // namespace electra::model
