#include "model/add_layer_norm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "common/error.h"
#include "model/fast_random.h"
#include "model/kernel_tensors.h"
#include "model/norm_rows.h"

namespace electra::model {
namespace {

// Rows per task. Fixed, so that the parameter gradients' partial sums (one per block, added in
// block order) do not depend on the thread count: training resumes and reproduces bit-exactly.
constexpr int64_t kBlockRows = 64;

struct AddLayerNorm : public torch::autograd::Function<AddLayerNorm> {
  // y_bias: [h] fp32 or empty; keep: the dropout mask ([..., h] bool) or empty; scale:
  // 1 / (1 - p); low_copy (bf16 y): also return the output rounded to bf16.
  // -> {out [..., h] fp32} or {out, low [..., h] bf16}.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& y, const at::Tensor& y_bias,
                                                const at::Tensor& residual,
                                                const at::Tensor& weight, const at::Tensor& bias,
                                                const at::Tensor& keep, double eps, double scale,
                                                bool low_copy) {
    const int64_t h = y.size(-1), rows = y.numel() / h;
    const bool bf16 = y.scalar_type() == at::kBFloat16;
    at::Tensor x = at::empty(y.sizes(), residual.options());  // [..., h] fp32, for backward
    at::Tensor out = at::empty_like(x);                       // [..., h] fp32
    at::Tensor low = low_copy ? at::empty(y.sizes(), x.options().dtype(at::kBFloat16))
                              : at::Tensor();  // [..., h] bf16
    uint16_t* low16 = low_copy ? detail::bf16_data(low) : nullptr;
    at::Tensor mean = at::empty({rows}, x.options()), rstd = at::empty({rows}, x.options());
    const bool* k = detail::keep_data(keep);
    const float* yb = detail::float_data(y_bias);
    const float* y32 = detail::f32_data(y);
    const uint16_t* y16 = detail::bf16_data(y);
    at::parallel_for(0, rows, kBlockRows, [&](int64_t begin, int64_t end) {
      const int64_t o = begin * h;
      detail::add_layer_norm_rows(
          detail::offset(y32, o), yb, detail::offset(y16, o), detail::offset(k, o),
          static_cast<float>(scale), residual.data_ptr<float>() + o, weight.data_ptr<float>(),
          bias.data_ptr<float>(), static_cast<float>(eps), end - begin, h, x.data_ptr<float>() + o,
          mean.data_ptr<float>() + begin, rstd.data_ptr<float>() + begin, out.data_ptr<float>() + o,
          detail::offset(low16, o));
    });
    ctx->save_for_backward({x, mean, rstd, weight, keep});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["bf16"] = bf16;
    ctx->saved_data["y_bias"] = yb != nullptr;
    // An output nobody used (the last layer's copy) brings an undefined gradient, not zeros.
    ctx->set_materialize_grads(false);
    if (low_copy) return {out, low};
    return {out};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &mean = saved[1], &rstd = saved[2], &weight = saved[3],
                     &keep = saved[4];
    const auto scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const bool bf16 = ctx->saved_data["bf16"].toBool();
    const bool has_y_bias = ctx->saved_data["y_bias"].toBool();
    // The gradients of out ([..., h] fp32) and of the copy (bf16), either undefined when unused.
    const at::Tensor g32 = grad[0].defined() ? grad[0].to(at::kFloat).contiguous() : at::Tensor();
    const at::Tensor g16 = grad.size() > 1 && grad[1].defined()
                               ? grad[1].to(at::kBFloat16).contiguous()
                               : at::Tensor();
    const float* g32p = g32.defined() ? g32.data_ptr<float>() : nullptr;
    const uint16_t* g16p = g16.defined() ? detail::bf16_data(g16) : nullptr;
    const int64_t h = x.size(-1), rows = x.numel() / h;
    const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
    at::Tensor dx = at::empty_like(x);
    at::Tensor dy = at::empty(x.sizes(), x.options().dtype(bf16 ? at::kBFloat16 : at::kFloat));
    // Per block: dgamma, dbeta, d y_bias.
    at::Tensor partial = at::zeros({blocks, 3, h}, x.options());
    const bool* k = detail::keep_data(keep);
    float* dy32 = detail::f32_data(dy);
    uint16_t* dy16 = detail::bf16_data(dy);
    at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
      for (int64_t blk = first; blk < last; ++blk) {
        const int64_t begin = blk * kBlockRows, n = std::min(kBlockRows, rows - begin);
        const int64_t o = begin * h;
        float* part = partial.data_ptr<float>() + blk * 3 * h;
        detail::add_layer_norm_rows_backward(
            detail::offset(g32p, o), detail::offset(g16p, o), x.data_ptr<float>() + o,
            mean.data_ptr<float>() + begin, rstd.data_ptr<float>() + begin,
            weight.data_ptr<float>(), detail::offset(k, o), scale, n, h, dx.data_ptr<float>() + o,
            detail::offset(dy32, o), detail::offset(dy16, o), part, part + h,
            has_y_bias ? part + 2 * h : nullptr);
      }
    });
    // The blocks' partial sums in block order, on one thread (blocks x 3h additions).
    at::Tensor sums = at::zeros({3, h}, x.options());  // dgamma, dbeta, d y_bias
    float* s = sums.data_ptr<float>();
    const float* p = partial.data_ptr<float>();
    for (int64_t i = 0; i < blocks * 3 * h; ++i)
      s[i % (3 * h)] += p[i];
    const at::Tensor grad_y_bias = has_y_bias ? sums[2] : at::Tensor();
    return {dy,           grad_y_bias,  dx,           sums[0],     sums[1],
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_add_layer_norm_supports(const at::Tensor& y, const at::Tensor& residual) {
  return detail::cpu_fp32_or_bf16(y) && residual.is_cpu() && residual.scalar_type() == at::kFloat &&
         y.sizes() == residual.sizes();
}

at::Tensor fused_add_layer_norm(const at::Tensor& y, const at::Tensor& residual,
                                const at::Tensor& weight, const at::Tensor& bias, double eps,
                                double dropout_p, const at::Tensor& y_bias) {
  return fused_add_layer_norm_hidden(y, residual, weight, bias, eps, dropout_p, y_bias,
                                     /*low_copy=*/false)[0];
}

std::vector<at::Tensor> fused_add_layer_norm_hidden(const at::Tensor& y, const at::Tensor& residual,
                                                    const at::Tensor& weight,
                                                    const at::Tensor& bias, double eps,
                                                    double dropout_p, const at::Tensor& y_bias,
                                                    bool low_copy) {
  ELECTRA_CHECK(fused_add_layer_norm_supports(y, residual) && weight.numel() == y.size(-1) &&
                    bias.numel() == y.size(-1) && weight.scalar_type() == at::kFloat &&
                    (!y_bias.defined() ||
                     (y_bias.scalar_type() == at::kFloat && y_bias.numel() == y.size(-1))),
                "fused_add_layer_norm: unsupported y ", y.sizes(), " ", y.scalar_type(),
                ", residual ", residual.sizes(), " ", residual.scalar_type());
  // Drawn here, where the eager path draws model::dropout's mask: the same generator state
  // gives the same mask on either path.
  const at::Tensor keep = detail::keep_mask_or_empty(y.sizes(), dropout_p);
  return AddLayerNorm::apply(y.contiguous(), detail::float_or_empty(y_bias), residual.contiguous(),
                             weight.contiguous(), bias.contiguous(), keep, eps,
                             dropout_p > 0.0 ? dropout_scale(dropout_p) : 1.0,
                             low_copy && y.scalar_type() == at::kBFloat16);
}

}  // namespace electra::model
