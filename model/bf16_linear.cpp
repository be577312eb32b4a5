#include "model/bf16_linear.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/blas.h"
#include "common/error.h"
#include "model/kernel_tensors.h"
#include "model/onednn_linear.h"

namespace electra::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Bf16Linear : public torch::autograd::Function<Bf16Linear> {
  // b: an empty tensor for "no bias" (LibTorch 1.13's custom functions take no undefined one).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b) {
    const at::Tensor w16 = w.to(at::kBFloat16);  // [out, in]
    ctx->save_for_backward({x.reshape({-1, x.size(-1)}), w16});
    ctx->saved_data["bias"] = b.numel() > 0;
    // On oneDNN's matmul primitive where there is one (model/onednn_linear.h; forward runs
    // without grad mode): the bias inside the product instead of addmm's copy of it across the
    // output, the same rounding once of the fp32 sum plus the bf16 bias. The primitive packs the
    // fp32 weight itself, once per optimizer step (its version).
    if (onednn_linear_supports(x, w)) return onednn_linear(x, w, b, Epilogue::kNone);
    return rows_linear(x, w16, b.to(at::kBFloat16));  // [..., out] bf16
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x2 = saved[0], &w16 = saved[1];
    const at::Tensor gy = grad[0].reshape({-1, w16.size(0)}).contiguous();  // [n, out] bf16
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      std::vector<int64_t> sizes = grad[0].sizes().vec();
      sizes.back() = w16.size(1);
      gx = gy.mm(w16).view(sizes);  // [..., in] bf16
    }
    if (ctx->needs_input_grad(1)) gw = bf16_weight_grad(gy, x2);  // [out, in] fp32
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2))
      gb = bf16_bias_grad(gy);  // [out] fp32
    return {gx, gw, gb};
  }
};

}  // namespace

bool bf16_linear_supports(const at::Tensor& x, const at::Tensor& w) {
  return x.is_cpu() && w.is_cpu() && x.scalar_type() == at::kBFloat16 &&
         w.scalar_type() == at::kFloat && w.dim() == 2 && blas::have_gemm_bf16();
}

at::Tensor rows_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const at::Tensor x2 = x.reshape({-1, x.size(-1)});  // [n, in]
  const at::Tensor y =
      b.defined() && b.numel() > 0 ? at::addmm(b, x2, w.t()) : x2.mm(w.t());  // [n, out]
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = w.size(0);
  return y.view(sizes);
}

at::Tensor bf16_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  ELECTRA_CHECK(bf16_linear_supports(x, w) && x.size(-1) == w.size(1) &&
                    (!b.defined() || (b.scalar_type() == at::kFloat && b.numel() == w.size(0))),
                "bf16_linear: unsupported x ", x.sizes(), " ", x.scalar_type(), ", w ", w.sizes(),
                " ", w.scalar_type());
  const at::Tensor bias = b.defined() ? b : at::empty({0}, w.options());
  return Bf16Linear::apply(x, w, bias);
}

at::Tensor bf16_bias_grad(const at::Tensor& gy) {
  const at::Tensor g = gy.contiguous();  // [n, out] bf16
  const int64_t n = g.size(0), out = g.size(1);
  // 1^T gy on the same GEMM: ATen's sum with an fp32 result would first copy gy to fp32.
  const at::Tensor ones = at::ones({n}, g.options());               // [n] bf16
  at::Tensor gb = at::empty({out}, g.options().dtype(at::kFloat));  // [out]
  if (n > 0 && g.is_cpu() &&
      blas::gemm_bf16(false, false, 1, out, n, 1.0f, detail::bf16_data(ones), n,
                      detail::bf16_data(g), out, 0.0f, gb.data_ptr<float>(), out))
    return gb;
  return g.sum(0, /*keepdim=*/false, at::kFloat);
}

at::Tensor bf16_weight_grad(const at::Tensor& gy, const at::Tensor& x) {
  const at::Tensor g = gy.contiguous(), xc = x.contiguous();  // [n, out], [n, in] bf16
  const int64_t n = g.size(0), out = g.size(1), in = xc.size(1);
  at::Tensor gw = at::empty({out, in}, g.options().dtype(at::kFloat));  // [out, in]
  if (n > 0 && g.is_cpu() &&
      blas::gemm_bf16(/*ta=*/true, /*tb=*/false, out, in, n, 1.0f, detail::bf16_data(g), out,
                      detail::bf16_data(xc), in, 0.0f, gw.data_ptr<float>(), in))
    return gw;
  return g.t().mm(xc).to(at::kFloat);
}

}  // namespace electra::model
