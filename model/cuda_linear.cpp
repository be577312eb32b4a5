// model/cuda_linear.h over model/cuda/column_sum_kernels.h (CUDA builds with
// ELECTRA_CUDA_KERNELS); elsewhere nothing is supported.
#include "model/cuda_linear.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "common/env_switch.h"
#include "common/error.h"
#include "model/encoder.h"
#include "model/param_cast.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/bf16_linear.h"
#include "model/cuda/column_sum_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::model {

#if defined(ELECTRA_CUDA_KERNELS)
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using cuda::check_launch;

struct CudaLinear : public torch::autograd::Function<CudaLinear> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b) {
    const at::ScalarType dt = x.scalar_type();
    const at::Tensor wc = w.to(dt);  // [out, in]
    ctx->save_for_backward({x.reshape({-1, x.size(-1)}), wc});
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(w.scalar_type());
    ctx->saved_data["b_dtype"] = static_cast<int64_t>(b.scalar_type());
    return rows_linear(x, wc, b.to(dt));  // [..., out] in dt
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x2 = saved[0], &wc = saved[1];
    const at::Tensor gy = grad[0].reshape({-1, wc.size(0)}).contiguous();  // [n, out]
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      std::vector<int64_t> sizes = grad[0].sizes().vec();
      sizes.back() = wc.size(1);
      gx = gy.mm(wc).view(sizes);  // [..., in]
    }
    if (ctx->needs_input_grad(1)) {
      const auto t = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
      gw = gy.t().mm(x2).to(t);  // [out, in]
    }
    if (ctx->needs_input_grad(2)) {
      const auto t = static_cast<at::ScalarType>(ctx->saved_data["b_dtype"].toInt());
      gb = cuda_column_sums(gy, t);  // [out]
    }
    return {gx, gw, gb};
  }
};

}  // namespace

bool cuda_bias_grad_enabled() {
  static const bool on = env_switch_on("ELECTRA_CUDA_BIAS_GRAD");
  return on;
}

bool cuda_column_sums_supports(const at::Tensor& g) {
  return cuda_bias_grad_enabled() && g.is_cuda() && g.dim() == 2 &&
         cuda::has_elem(g.scalar_type()) && g.size(1) > 0 && g.size(1) % 4 == 0 &&
         g.size(0) <= cuda::column_sum_max_rows();
}

at::Tensor cuda_column_sums(const at::Tensor& g, at::ScalarType out_dtype) {
  ELECTRA_CHECK(cuda_column_sums_supports(g) && cuda::has_elem(out_dtype),
                "cuda_column_sums: unsupported ", g.sizes(), " ", g.scalar_type(), " -> ",
                out_dtype);
  const c10::cuda::CUDAGuard guard(g.device());
  const at::Tensor in = g.contiguous();  // [n, c]
  const int64_t rows = in.size(0), cols = in.size(1);
  const auto f32 = in.options().dtype(at::kFloat);
  at::Tensor scratch = at::empty({cuda::column_sum_blocks(rows), cols}, f32);  // [blocks, c]
  at::Tensor out = at::empty({cols}, f32.dtype(out_dtype));                    // [c]
  cuda::ColumnSums a;
  a.in = in.data_ptr();
  a.elem = cuda::elem_of(in.scalar_type());
  a.rows = rows;
  a.cols = cols;
  a.scratch = scratch.data_ptr<float>();
  a.out = out.data_ptr();
  a.out_elem = cuda::elem_of(out_dtype);
  check_launch(cuda::column_sums(a, c10::cuda::getCurrentCUDAStream().stream()), "column_sums");
  return out;
}

at::Tensor cuda_sum_rows(const at::Tensor& partial, at::ScalarType out_dtype) {
  ELECTRA_CHECK(partial.is_cuda() && partial.scalar_type() == at::kFloat &&
                    partial.is_contiguous() && partial.dim() >= 1 && cuda::has_elem(out_dtype),
                "cuda_sum_rows: unsupported ", partial.sizes(), " ", partial.scalar_type(), " -> ",
                out_dtype);
  const c10::cuda::CUDAGuard guard(partial.device());
  const std::vector<int64_t> sizes(partial.sizes().begin() + 1, partial.sizes().end());
  at::Tensor out = at::empty(sizes, partial.options().dtype(out_dtype));  // [...]
  const int64_t rows = partial.size(0);
  check_launch(cuda::sum_rows(partial.data_ptr<float>(), rows,
                              rows > 0 ? partial.numel() / rows : 0, out.data_ptr(),
                              cuda::elem_of(out_dtype), c10::cuda::getCurrentCUDAStream().stream()),
               "sum_rows");
  if (rows == 0) out.zero_();
  return out;
}

bool cuda_linear_supports(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const at::ScalarType dt = x.scalar_type();
  const auto param_ok = [&](const at::Tensor& p) {
    return p.defined() && p.device() == x.device() &&
           (p.scalar_type() == at::kFloat || p.scalar_type() == dt);
  };
  return cuda_bias_grad_enabled() && x.is_cuda() && cuda::has_elem(dt) && x.dim() >= 1 &&
         param_ok(w) && param_ok(b) && w.dim() == 2 && w.size(1) == x.size(-1) && b.dim() == 1 &&
         b.size(0) == w.size(0) && w.size(0) % 4 == 0 &&
         x.numel() / std::max<int64_t>(1, x.size(-1)) <= cuda::column_sum_max_rows();
}

at::Tensor cuda_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  ELECTRA_CHECK(cuda_linear_supports(x, w, b), "cuda_linear: unsupported x ", x.sizes(), " ",
                x.scalar_type(), ", w ", w.sizes(), " ", w.scalar_type());
  return CudaLinear::apply(x, w, b);
}

#else

bool cuda_bias_grad_enabled() {
  return false;
}

bool cuda_column_sums_supports(const at::Tensor&) {
  return false;
}

at::Tensor cuda_column_sums(const at::Tensor&, at::ScalarType) {
  throw std::runtime_error("cuda_column_sums: this electra was built without the CUDA kernels");
}

at::Tensor cuda_sum_rows(const at::Tensor&, at::ScalarType) {
  throw std::runtime_error("cuda_sum_rows: this electra was built without the CUDA kernels");
}

bool cuda_linear_supports(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  return false;
}

at::Tensor cuda_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  throw std::runtime_error("cuda_linear: this electra was built without the CUDA kernels");
}

#endif

bool pad_vocab_enabled(const at::Tensor& x) {
  static const bool on = env_switch_on("ELECTRA_CUDA_PAD_VOCAB");
  // fp32 is left out: its widened logits would stay a strided view and cost a copy later.
  return on && x.is_cuda() && at::GradMode::is_enabled() && x.scalar_type() != at::kFloat;
}

at::Tensor padded_vocab_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                               int64_t multiple) {
  ELECTRA_CHECK(multiple > 0 && w.dim() == 2 && b.defined() && b.dim() == 1 &&
                    b.size(0) == w.size(0) && x.size(-1) == w.size(1),
                "padded_vocab_linear: x ", x.sizes(), ", w ", w.sizes(), ", b ", b.sizes(),
                ", multiple ", multiple);
  const int64_t vocab = w.size(0);
  const int64_t padded = (vocab + multiple - 1) / multiple * multiple;
  if (padded == vocab) return linear(x, w, b);
  at::Tensor wp = at::empty({padded, w.size(1)}, x.options());  // [padded, emb] in x's dtype
  at::Tensor bp = at::empty({padded}, x.options());             // [padded]
  wp.narrow(0, vocab, padded - vocab).zero_();
  bp.narrow(0, vocab, padded - vocab).zero_();
  // copy_ casts, and autograd records it (CopySlices): w's gradient is the first vocab rows of
  // wp's, cast back to w's dtype, as the gradient of w.to(dt) would be.
  // In a GPU training step, from the step's cast of w (model/param_cast.h).
  const at::Tensor wc = scoped_cast(w, x.scalar_type());
  wp.narrow(0, 0, vocab).copy_(wc.defined() ? wc : w);
  bp.narrow(0, 0, vocab).copy_(b);
  return linear(x, wp, bp).narrow(-1, 0, vocab);  // [n, vocab], row stride padded
}

}  // namespace electra::model
