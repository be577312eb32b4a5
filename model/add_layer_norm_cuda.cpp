// The autograd node over model/cuda/add_layer_norm_kernels.h (CUDA builds with
// ELECTRA_CUDA_KERNELS); elsewhere only the mask helper and "not built".
#include <ATen/ATen.h>

#include <stdexcept>

#include "common/error.h"
#include "model/add_layer_norm.h"
#include "model/cuda/dropout_hash.h"
#include "model/cuda_linear.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/cuda/add_layer_norm_kernels.h"
#include "model/cuda_kernel_args.h"
#include "model/fast_random.h"
#include "model/seed_slots.h"
#endif

namespace electra::model {

bool cuda_add_layer_norm_runs(bool enabled, const at::Device& device) {
  return enabled && device.is_cuda() && cuda_add_layer_norm_built();
}

at::Tensor cuda_dropout_keep_mask(uint64_t seed, int64_t rows, int64_t h, double p) {
  at::Tensor keep = at::empty({rows, h}, at::kBool);  // [rows, h]
  bool* k = keep.data_ptr<bool>();
  const uint32_t threshold = detail::hash_threshold(p);
  for (int64_t i = 0; i < rows * h; ++i)
    k[i] = detail::hash_keep(seed, static_cast<uint64_t>(i), threshold);
  return keep;
}

#if defined(ELECTRA_CUDA_KERNELS)
namespace {

using cuda::check_launch;
using cuda::elem_of;

struct CudaAddLayerNorm : public torch::autograd::Function<CudaAddLayerNorm> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& y, const at::Tensor& residual,
                                                const at::Tensor& weight, const at::Tensor& bias,
                                                double eps, double dropout_p, bool low_copy) {
    const c10::cuda::CUDAGuard guard(y.device());
    const int64_t h = y.size(-1), rows = y.numel() / h;
    at::Tensor x = at::empty(y.sizes(), residual.options());  // [..., h] fp32, for backward
    at::Tensor out = at::empty_like(x);                       // [..., h] fp32
    at::Tensor mean = at::empty({rows}, x.options()), rstd = at::empty({rows}, x.options());
    at::Tensor low = low_copy ? at::empty(y.sizes(), y.options()) : at::Tensor();  // [..., h]
    cuda::AddLayerNormForward a;
    a.y = y.data_ptr();
    a.elem = elem_of(y.scalar_type());
    a.residual = residual.data_ptr<float>();
    a.gamma = weight.data_ptr<float>();
    a.beta = bias.data_ptr<float>();
    a.eps = static_cast<float>(eps);
    a.threshold = detail::hash_threshold(dropout_p);
    a.scale = dropout_p > 0.0 ? dropout_scale(dropout_p) : 1.0f;
    if (a.threshold != 0) {
      if (SeedSlots* slots = recording_seed_slots()) {
        // Inside a CUDA graph capture: the seed is filled in before each replay.
        a.seed_at = slots->take();
      } else {
        // The CPU generator, as model::dropout's CPU masks: no device synchronisation, and the
        // checkpointed CPU state replays the same masks on resume.
        at::Generator gen = at::detail::getDefaultCPUGenerator();
        a.seed = draw_seed(gen);
      }
    }
    a.rows = rows;
    a.h = h;
    a.x = x.data_ptr<float>();
    a.mean = mean.data_ptr<float>();
    a.rstd = rstd.data_ptr<float>();
    a.out = out.data_ptr<float>();
    a.out_low = low.defined() ? low.data_ptr() : nullptr;
    check_launch(cuda::add_layer_norm_forward(a, c10::cuda::getCurrentCUDAStream().stream()),
                 "add_layer_norm_forward");
    ctx->save_for_backward({x, mean, rstd, weight});
    ctx->saved_data["seed"] = static_cast<int64_t>(a.seed);
    ctx->saved_data["seed_at"] = reinterpret_cast<int64_t>(a.seed_at);
    ctx->saved_data["threshold"] = static_cast<int64_t>(a.threshold);
    ctx->saved_data["scale"] = static_cast<double>(a.scale);
    ctx->saved_data["dtype"] = static_cast<int64_t>(y.scalar_type());
    // An output nobody used (the low copy after the last layer) gets no gradient at all,
    // instead of zeros the kernel would read.
    ctx->set_materialize_grads(false);
    if (low.defined()) return {out, low};
    return {out};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &mean = saved[1], &rstd = saved[2], &weight = saved[3];
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const at::Tensor none;
    const at::Tensor g_out = grad[0].defined() ? grad[0].to(at::kFloat).contiguous() : none;
    const at::Tensor g_low =
        grad.size() > 1 && grad[1].defined() ? grad[1].to(dtype).contiguous() : none;
    if (!g_out.defined() && !g_low.defined()) return {none, none, none, none, none, none, none};
    const c10::cuda::CUDAGuard guard(x.device());
    const int64_t h = x.size(-1), rows = x.numel() / h;
    at::Tensor dx = at::empty_like(x);                               // [..., h] fp32
    at::Tensor dy = at::empty(x.sizes(), x.options().dtype(dtype));  // [..., h]
    at::Tensor partial = at::empty({cuda::add_layer_norm_blocks(rows), 2, h}, x.options());
    cuda::AddLayerNormBackward a;
    a.g_out = g_out.defined() ? g_out.data_ptr<float>() : nullptr;
    a.g_low = g_low.defined() ? g_low.data_ptr() : nullptr;
    a.elem = elem_of(dtype);
    a.x = x.data_ptr<float>();
    a.mean = mean.data_ptr<float>();
    a.rstd = rstd.data_ptr<float>();
    a.gamma = weight.data_ptr<float>();
    a.threshold = static_cast<uint32_t>(ctx->saved_data["threshold"].toInt());
    a.scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    a.seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    a.seed_at = reinterpret_cast<const uint64_t*>(ctx->saved_data["seed_at"].toInt());
    a.rows = rows;
    a.h = h;
    a.dx = dx.data_ptr<float>();
    a.dy = dy.data_ptr();
    a.partial = partial.data_ptr<float>();
    check_launch(cuda::add_layer_norm_backward(a, c10::cuda::getCurrentCUDAStream().stream()),
                 "add_layer_norm_backward");
    const at::Tensor sums = cuda_sum_rows(partial);  // [2, h]: dgamma, dbeta
    return {dy, dx, sums[0], sums[1], none, none, none};
  }
};

}  // namespace

bool cuda_add_layer_norm_built() {
  return true;
}

bool cuda_add_layer_norm_supports(const at::Tensor& y, const at::Tensor& residual) {
  const auto t = y.scalar_type();
  return y.is_cuda() && residual.is_cuda() && y.device() == residual.device() &&
         cuda::has_elem(t) && residual.scalar_type() == at::kFloat &&
         y.sizes() == residual.sizes() && y.dim() >= 1 && y.size(-1) > 0 &&
         y.size(-1) <= cuda::kMaxHidden && y.size(-1) % 4 == 0;
}

std::vector<at::Tensor> cuda_add_layer_norm(const at::Tensor& y, const at::Tensor& residual,
                                            const at::Tensor& weight, const at::Tensor& bias,
                                            double eps, double dropout_p, bool low_copy) {
  ELECTRA_CHECK(cuda_add_layer_norm_supports(y, residual) && weight.numel() == y.size(-1) &&
                    bias.numel() == y.size(-1) && weight.scalar_type() == at::kFloat &&
                    bias.scalar_type() == at::kFloat && weight.device() == y.device() &&
                    bias.device() == y.device() && dropout_p >= 0.0 && dropout_p < 1.0,
                "cuda_add_layer_norm: unsupported y ", y.sizes(), " ", y.scalar_type(),
                ", residual ", residual.sizes(), " ", residual.scalar_type());
  return CudaAddLayerNorm::apply(y.contiguous(), residual.contiguous(), weight.contiguous(),
                                 bias.contiguous(), eps, dropout_p,
                                 low_copy && y.scalar_type() != at::kFloat);
}

#else

bool cuda_add_layer_norm_built() {
  return false;
}

bool cuda_add_layer_norm_supports(const at::Tensor&, const at::Tensor&) {
  return false;
}

std::vector<at::Tensor> cuda_add_layer_norm(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                            const at::Tensor&, double, double, bool) {
  throw std::runtime_error("cuda_add_layer_norm: this electra was built without the CUDA kernels");
}

#endif

}  // namespace electra::model
