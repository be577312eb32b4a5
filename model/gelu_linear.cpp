#include "model/gelu_linear.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace electra::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GeluLinear : public torch::autograd::Function<GeluLinear> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& pre, const at::Tensor& weight,
                            const at::Tensor& bias, const std::string& approximate) {
    ctx->save_for_backward({pre, weight});
    ctx->saved_data["approximate"] = approximate;
    return at::linear(at::gelu(pre, approximate), weight, bias);  // [..., out]
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& pre = saved[0];     // [..., F]
    const at::Tensor& weight = saved[1];  // [out, F]
    const std::string approximate = ctx->saved_data["approximate"].toStringRef();
    const at::Tensor gy = grad[0].reshape({-1, weight.size(0)});                      // [n, out]
    const at::Tensor act = at::gelu(pre, approximate).reshape({-1, weight.size(1)});  // [n, F]
    at::Tensor grad_weight = gy.t().mm(act);                                          // [out, F]
    at::Tensor grad_bias = gy.sum(0);                                                 // [out]
    at::Tensor grad_act = gy.mm(weight).view(pre.sizes());                            // [..., F]
    return {at::gelu_backward(grad_act, pre, approximate), grad_weight, grad_bias, at::Tensor()};
  }
};

}  // namespace

at::Tensor gelu_linear(const at::Tensor& pre, const at::Tensor& weight, const at::Tensor& bias,
                       const std::string& approximate) {
  // LibTorch 1.13's custom functions cannot take an undefined tensor: a zero bias stands in.
  const at::Tensor b = bias.defined() ? bias : at::zeros({weight.size(0)}, weight.options());
  return GeluLinear::apply(pre, weight, b, approximate);
}

}  // namespace electra::model
