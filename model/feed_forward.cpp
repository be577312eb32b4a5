#include "model/feed_forward.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/bf16_linear.h"
#include "model/cuda_linear.h"
#include "model/gelu_rows.h"
#include "model/kernel_tensors.h"
#include "model/onednn_linear.h"
#include "model/weight_cast.h"

namespace electra::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using detail::bf16_data;
using detail::f32_data;
using detail::offset;

// Elements per parallel task for the element-wise passes.
constexpr int64_t kGrain = 1 << 14;

// Whether the first product's bias is left out of it and added by the GELU's passes instead,
// on the CPU: ATen's addmm would first copy the broadcast bias into the [n, F] output, a pass of
// its own (in bf16, ~8 MB a layer for ELECTRA-Small at batch 32). In bf16 the GELU's input is
// then the product rounded to bf16 plus the bias, rounded again (gelu_rows.cpp), where addmm
// rounds product + bias once: within a bf16 step of it.
bool bias_in_gelu(const at::Tensor& x2) {
  return detail::cpu_fp32_or_bf16(x2);
}

// x2: [n, H] -> (pre, act), both [n, F]; pre lacks the bias where bias_in_gelu. `keep_pre`:
// false in evaluation, where act overwrites pre.
std::pair<at::Tensor, at::Tensor> bias_gelu_forward(const at::Tensor& x2, const at::Tensor& w1,
                                                    const at::Tensor& b1, bool tanh_approx,
                                                    bool keep_pre) {
  if (!detail::cpu_fp32_or_bf16(x2)) {
    at::Tensor pre = at::linear(x2, w1, b1);
    return {pre, at::gelu(pre, tanh_approx ? "tanh" : "none")};
  }
  const bool fold = bias_in_gelu(x2);
  at::Tensor pre;  // [n, F]
  if (!fold) {
    pre = at::addmm(b1, x2, w1.t());
  } else if (onednn_linear_supports(x2, w1)) {
    // oneDNN's primitive (training's forward runs without grad mode): the same product and
    // rounding as mm, with the weight packed once per version.
    pre = onednn_linear(x2, w1, {}, Epilogue::kNone);
  } else {
    pre = x2.mm(w1.t());
  }
  at::Tensor act = keep_pre ? at::empty_like(pre) : pre;
  const at::Tensor bias = fold ? b1.to(at::kFloat).contiguous() : at::Tensor();  // [F] fp32
  const int64_t f = pre.size(1);
  at::parallel_for(0, pre.size(0), std::max<int64_t>(1, kGrain / f), [&](int64_t b, int64_t e) {
    detail::bias_gelu(offset(f32_data(pre), b * f), offset(bf16_data(pre), b * f),
                      fold ? bias.data_ptr<float>() : nullptr, e - b, f, tanh_approx,
                      offset(f32_data(act), b * f), offset(bf16_data(act), b * f));
  });
  return {pre, act};
}

// x's sizes with the last one w2's output width.
std::vector<int64_t> out_sizes(const at::Tensor& x, const at::Tensor& w2) {
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = w2.size(0);
  return sizes;
}

// act [n, F] -> act w2^T (+ b2 unless empty), shaped as x with the last size out.
at::Tensor second_product(const at::Tensor& x, const at::Tensor& act, const at::Tensor& w2,
                          const at::Tensor& b2) {
  return rows_linear(act, w2, b2).view(out_sizes(x, w2));  // [n, out] -> [..., out]
}

struct GeluFeedForward : public torch::autograd::Function<GeluFeedForward> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w1,
                            const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2,
                            bool tanh_approx, bool fused_cuda, bool keep_act) {
    const at::Tensor x2 = x.reshape({-1, x.size(-1)});  // [n, H]
    // fp32 master parameters with bf16 x: the products take them rounded to bf16, and backward
    // gives their gradients in fp32 (model/bf16_linear.h).
    const at::ScalarType dt = x.scalar_type();
    const at::Tensor w1c = w1.to(dt), w2c = w2.to(dt);  // [F, H], [out, F]
    // The products take the fp32 masters where oneDNN's primitive runs them (it rounds and
    // packs them itself), else the copies in dt.
    const bool primitive = onednn_linear_supports(x2, w1);
    auto [pre, act] = bias_gelu_forward(x2, primitive ? w1 : w1c, b1.to(dt), tanh_approx,
                                        /*keep_pre=*/true);
    // The bias that backward adds to pre again, or an empty tensor (LibTorch 1.13's custom
    // functions save no undefined tensor).
    // The values forward added: b1 in x's dtype (the eager path's bias), widened.
    const at::Tensor folded =
        bias_in_gelu(x2) ? b1.to(dt).to(at::kFloat).contiguous() : at::empty({0}, b1.options());
    // The GELU's output for backward, where the CUDA kernel would otherwise write it again; else
    // empty.
    const bool kept = keep_act && fused_cuda && folded.numel() == 0 &&
                      cuda_gelu_backward_supports(pre, act) && act.is_contiguous();
    ctx->save_for_backward({x2, w1c, pre, w2c, folded, kept ? act : at::empty({0}, pre.options())});
    ctx->saved_data["tanh"] = tanh_approx;
    ctx->saved_data["fused_cuda"] = fused_cuda;
    ctx->saved_data["b2"] = b2.numel() > 0;
    ctx->saved_data["master"] = w1.scalar_type() != dt;
    if (primitive && onednn_linear_supports(act, w2))
      return onednn_linear(act, w2, b2, Epilogue::kNone).view(out_sizes(x, w2));
    return second_product(x, act, w2c, b2.to(dt));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x2 = saved[0], &w1 = saved[1], &pre = saved[2], &w2 = saved[3],
                     &folded = saved[4], &kept_act = saved[5];
    const bool tanh_approx = ctx->saved_data["tanh"].toBool();
    const at::Tensor gy = grad[0].reshape({-1, w2.size(0)});  // [n, out]
    at::Tensor d = gy.mm(w2);                                 // [n, F]: d act, then d pre
    at::Tensor act;                                           // [n, F]
    at::Tensor grad_b1;                                       // [F], when a kernel summed it
    if (detail::cpu_fp32_or_bf16(pre) && d.scalar_type() == pre.scalar_type() &&
        d.is_contiguous()) {
      act = at::empty_like(pre);
      const int64_t f = pre.size(1);
      const float* bias = detail::float_data(folded);
      at::parallel_for(0, pre.size(0), std::max<int64_t>(1, kGrain / f), [&](int64_t b, int64_t e) {
        const int64_t o = b * f;
        detail::gelu_backward(offset(f32_data(pre), o), offset(bf16_data(pre), o), bias, e - b, f,
                              tanh_approx, offset(f32_data(act), o), offset(bf16_data(act), o),
                              offset(f32_data(d), o), offset(bf16_data(d), o));
      });
    } else if (ctx->saved_data["fused_cuda"].toBool() && folded.numel() == 0 &&
               cuda_gelu_backward_supports(pre, d)) {
      // One pass instead of ATen's three; the bias gradient rounded to pre's dtype as
      // d.sum(0) would round it.
      const bool kept = kept_act.numel() > 0;
      auto outs = cuda_gelu_backward(pre, d, tanh_approx, /*with_act=*/!kept, pre.scalar_type());
      act = kept ? kept_act : outs[0];
      d = outs[1];
      grad_b1 = outs[2];
    } else {
      const char* approx = tanh_approx ? "tanh" : "none";
      const at::Tensor x = folded.numel() > 0 ? pre + folded : pre;
      act = at::gelu(x, approx);
      d = at::gelu_backward(d, x, approx);
    }
    // The parameters' gradients in their own dtype: fp32 master parameters get fp32 sums of the
    // bf16 products, not rounded to bf16 on the way.
    const bool master = ctx->saved_data["master"].toBool();
    const auto weight_grad = [&](const at::Tensor& g, const at::Tensor& in) {
      return master ? bf16_weight_grad(g, in) : g.t().mm(in);
    };
    const auto bias_grad = [&](const at::Tensor& g) {
      if (master) return bf16_bias_grad(g);
      // On CUDA our column sums (model/cuda_linear.h), rounded to g's dtype as g.sum(0) rounds.
      if (cuda_column_sums_supports(g)) return cuda_column_sums(g, g.scalar_type());
      return g.sum(0);
    };
    at::Tensor grad_w2 = weight_grad(gy, act);                                           // [out, F]
    at::Tensor grad_b2 = ctx->saved_data["b2"].toBool() ? bias_grad(gy) : at::Tensor();  // [out]
    at::Tensor grad_w1 = weight_grad(d, x2);                                             // [F, H]
    if (!grad_b1.defined()) grad_b1 = bias_grad(d);                                      // [F]
    std::vector<int64_t> sizes = grad[0].sizes().vec();
    sizes.back() = w1.size(1);
    at::Tensor grad_x = d.mm(w1).view(sizes);  // [..., H]
    return {grad_x, grad_w1, grad_b1, grad_w2, grad_b2, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor gelu_feed_forward(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                             const at::Tensor& w2, const at::Tensor& b2, bool tanh_approx,
                             bool fused_cuda, bool keep_act) {
  const bool grad =
      at::GradMode::is_enabled() && (x.requires_grad() || w1.requires_grad() || w2.requires_grad());
  // LibTorch 1.13's custom functions take no undefined tensor: an empty one stands for "none".
  const at::Tensor out_bias = b2.defined() ? b2 : at::empty({0}, w2.options());
  if (grad)
    return GeluFeedForward::apply(x, w1, b1, w2, out_bias, tanh_approx, fused_cuda, keep_act);
  const at::ScalarType dt = x.scalar_type();
  const at::Tensor x2 = x.reshape({-1, x.size(-1)});
  // No gradient, bf16 or fp32 on the CPU: the GELU inside the first product, weights packed
  // once (model/onednn_linear.h). Otherwise the weights' copies in dt are kept between calls
  // (model/weight_cast.h).
  const bool onednn = onednn_linear_supports(x2, w1);
  const at::Tensor act =
      onednn ? onednn_linear(x2, w1, b1, tanh_approx ? Epilogue::kGeluTanh : Epilogue::kGelu)
             : bias_gelu_forward(x2, cast_weight(w1, dt), cast_weight(b1, dt), tanh_approx,
                                 /*keep_pre=*/false)
                   .second;  // [n, F]
  if (onednn && onednn_linear_supports(act, w2))
    return onednn_linear(act, w2, out_bias, Epilogue::kNone).view(out_sizes(x, w2));
  return second_product(x, act, cast_weight(w2, dt), cast_weight(out_bias, dt));
}

}  // namespace electra::model
