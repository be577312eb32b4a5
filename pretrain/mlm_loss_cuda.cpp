// The CUDA path of mlm_cross_entropy (pretrain/mlm_loss.h) over model/cuda/mlm_loss_kernels.h,
// in CUDA builds with ELECTRA_CUDA_KERNELS; elsewhere "not supported".
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

#include "common/env_switch.h"
#include "common/error.h"
#include "pretrain/mlm_loss.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/mlm_loss_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::pretrain {

#if defined(ELECTRA_CUDA_KERNELS)

namespace {

struct CudaMlmCrossEntropy : public torch::autograd::Function<CudaMlmCrossEntropy> {
  // -> {loss [], correct []}; only the loss has a gradient. Nothing is read on the host.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& logits,
                                                const at::Tensor& labels) {
    const c10::cuda::CUDAGuard guard(logits.device());
    const at::Tensor x =
        model::cuda::rows_in_place(logits) ? logits : logits.contiguous();  // [m, vocab]
    const at::Tensor y = labels.contiguous();                               // [m]
    const int64_t m = x.size(0);
    const auto f32 = x.options().dtype(at::kFloat);
    at::Tensor lse = at::empty({m}, f32), loss = at::empty({m}, f32),  // [m] each
        correct = at::empty({m}, f32);
    model::cuda::MlmLossForward a;
    a.logits = x.data_ptr();
    a.elem = model::cuda::elem_of(x.scalar_type());
    a.rows = m;
    a.vocab = x.size(1);
    a.ld = x.stride(0);
    a.labels = y.data_ptr<int64_t>();
    a.lse = lse.data_ptr<float>();
    a.loss = loss.data_ptr<float>();
    a.correct = correct.data_ptr<float>();
    model::cuda::check_launch(
        model::cuda::mlm_loss_forward(a, c10::cuda::getCurrentCUDAStream().stream()),
        "mlm_loss_forward");
    // The mean over the counted rows, on the device (a CUDA graph replays the count): in fp64,
    // as the CPU path sums.
    const at::Tensor counted = y.ge(0).sum().to(at::kFloat);  // []
    const at::Tensor mean = (loss.to(at::kDouble).sum() / counted.to(at::kDouble)).to(at::kFloat);
    const at::Tensor hits = correct.sum();
    ctx->save_for_backward({x, y, lse, counted});
    ctx->mark_non_differentiable({hits});
    return {mean, hits};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    if (!grad[0].defined()) return {at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &y = saved[1], &lse = saved[2], &counted = saved[3];
    const c10::cuda::CUDAGuard guard(x.device());
    const at::Tensor g_loss = grad[0].to(at::kFloat).contiguous();  // []
    // Rows a multiple of 4 elements apart, so that every row's stores are whole vectors (BERT's
    // 30,522 is not); the gradient is the [m, vocab] view.
    const int64_t vocab = x.size(1), ld = (vocab + 3) / 4 * 4;
    at::Tensor g = at::empty({x.size(0), ld}, x.options());  // [m, ld]
    model::cuda::MlmLossBackward a;
    a.logits = x.data_ptr();
    a.elem = model::cuda::elem_of(x.scalar_type());
    a.rows = x.size(0);
    a.vocab = vocab;
    a.ld = x.stride(0);
    a.labels = y.data_ptr<int64_t>();
    a.lse = lse.data_ptr<float>();
    a.grad_loss = g_loss.data_ptr<float>();
    a.counted = counted.data_ptr<float>();
    a.grad = g.data_ptr();
    a.grad_ld = ld;
    model::cuda::check_launch(
        model::cuda::mlm_loss_backward(a, c10::cuda::getCurrentCUDAStream().stream()),
        "mlm_loss_backward");
    return {g.narrow(1, 0, vocab), at::Tensor()};
  }
};

}  // namespace

bool cuda_mlm_loss_enabled() {
  static const bool on = env_switch_opted_in("ELECTRA_CUDA_MLM_LOSS");
  return on;
}

bool cuda_mlm_loss_supports(const at::Tensor& logits, const at::Tensor& labels) {
  return logits.is_cuda() && logits.dim() == 2 && logits.size(0) > 0 &&
         logits.size(0) <= 0x7FFFFFFF && logits.size(1) > 0 &&
         model::cuda::has_elem(logits.scalar_type()) && labels.dim() == 1 &&
         labels.size(0) == logits.size(0) && labels.scalar_type() == at::kLong &&
         labels.device() == logits.device();
}

MlmLoss cuda_mlm_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  ELECTRA_CHECK(cuda_mlm_loss_supports(logits, labels),
                "cuda_mlm_cross_entropy: unsupported logits ", logits.sizes(), " ",
                logits.scalar_type(), ", labels ", labels.sizes());
  const auto out = CudaMlmCrossEntropy::apply(logits, labels);
  return {out[0], out[1]};
}

#else

bool cuda_mlm_loss_enabled() {
  return false;
}

bool cuda_mlm_loss_supports(const at::Tensor&, const at::Tensor&) {
  return false;
}

MlmLoss cuda_mlm_cross_entropy(const at::Tensor&, const at::Tensor&) {
  throw std::runtime_error(
      "cuda_mlm_cross_entropy: this electra was built without the CUDA kernels");
}

#endif

}  // namespace electra::pretrain
