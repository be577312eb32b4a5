#include "pretrain/mlm_loss.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/error.h"
#include "model/kernel_tensors.h"

namespace electra::pretrain {
namespace {

struct MlmCrossEntropy : public torch::autograd::Function<MlmCrossEntropy> {
  // -> {loss [], correct []}; only the loss has a gradient.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& logits,
                                                const at::Tensor& labels) {
    const int64_t m = logits.size(0), vocab = logits.size(1);
    const auto f32 = logits.options().dtype(at::kFloat);
    at::Tensor lse = at::empty({m}, f32);                                  // [m]
    at::Tensor argmax = at::empty({m}, logits.options().dtype(at::kInt));  // [m]
    const bool bf16 = logits.scalar_type() == at::kBFloat16;
    const float* x = model::detail::f32_data(logits);  // one of the two is null
    const uint16_t* x16 = model::detail::bf16_data(logits);
    float* row_lse = lse.data_ptr<float>();
    int32_t* row_argmax = argmax.data_ptr<int32_t>();
    at::parallel_for(0, m, 1, [&](int64_t b, int64_t e) {
      if (bf16) {
        detail::mlm_rows_forward_bf16(x16 + b * vocab, e - b, vocab, row_lse + b, row_argmax + b);
      } else {
        detail::mlm_rows_forward(x + b * vocab, e - b, vocab, row_lse + b, row_argmax + b);
      }
    });
    // The mean and the count in row order on one thread: the same bits on any thread count.
    const int64_t* y = labels.data_ptr<int64_t>();
    double total = 0.0;
    int64_t correct = 0, counted = 0;
    for (int64_t r = 0; r < m; ++r) {
      if (y[r] == kIgnoreLabel) continue;
      // ATen's cross-entropy rejects such a label; unchecked, x[r * vocab + y[r]] would read
      // outside the row.
      ELECTRA_CHECK(y[r] >= 0 && y[r] < vocab, "mlm_cross_entropy: label ", y[r], " of row ", r,
                    " is outside the vocabulary [0, ", vocab, ")");
      const float label_logit =
          bf16
              ? static_cast<float>(c10::BFloat16(x16[r * vocab + y[r]], c10::BFloat16::from_bits()))
              : x[r * vocab + y[r]];
      total += static_cast<double>(row_lse[r]) - label_logit;
      correct += row_argmax[r] == y[r];
      ++counted;
    }
    ELECTRA_CHECK(counted > 0, "mlm_cross_entropy: every label is ignored");
    ctx->save_for_backward({logits, lse, labels});
    ctx->saved_data["counted"] = counted;
    at::Tensor loss = at::scalar_tensor(total / static_cast<double>(counted), f32);
    at::Tensor count = at::scalar_tensor(static_cast<double>(correct), f32);
    ctx->mark_non_differentiable({count});
    return {loss, count};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &lse = saved[1], &labels = saved[2];
    const int64_t m = logits.size(0), vocab = logits.size(1);
    const int64_t counted = ctx->saved_data["counted"].toInt();
    const auto scale = static_cast<float>(grad[0].item<double>() / static_cast<double>(counted));
    at::Tensor g = at::empty_like(logits);  // [m, vocab] in the logits' dtype
    const float* row_lse = lse.data_ptr<float>();
    const int64_t* y = labels.data_ptr<int64_t>();
    at::parallel_for(0, m, 1, [&](int64_t b, int64_t e) {
      if (logits.scalar_type() == at::kBFloat16) {
        detail::mlm_rows_backward_bf16(model::detail::bf16_data(logits) + b * vocab, row_lse + b,
                                       y + b, scale, e - b, vocab,
                                       model::detail::bf16_data(g) + b * vocab);
      } else {
        detail::mlm_rows_backward(logits.data_ptr<float>() + b * vocab, row_lse + b, y + b, scale,
                                  e - b, vocab, g.data_ptr<float>() + b * vocab);
      }
    });
    return {g, at::Tensor()};
  }
};

}  // namespace

MlmLoss mlm_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  if (cuda_mlm_loss_enabled() && cuda_mlm_loss_supports(logits, labels))
    return cuda_mlm_cross_entropy(logits, labels);
  if (logits.is_cpu() &&
      (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16) &&
      logits.dim() == 2 && logits.size(0) > 0 && labels.scalar_type() == at::kLong) {
    const auto out = MlmCrossEntropy::apply(logits.contiguous(), labels.contiguous());
    return {out[0], out[1]};
  }
  at::Tensor correct;
  {
    at::NoGradGuard no_grad;
    correct = logits.detach().argmax(-1).eq(labels).sum().to(at::kFloat);
  }
  return {at::cross_entropy_loss(logits, labels), correct};
}

}  // namespace electra::pretrain
