// The generator's masked-LM loss on the CPU: mean cross-entropy over the masked positions and
// the number of them whose argmax is the original token, in one pass over the [masked, vocab]
// logits forward (max, first argmax, log-sum-exp) and one backward (softmax - one-hot), instead
// of ATen's log_softmax, nll_loss, argmax and log_softmax backward (four passes over the
// largest tensor of the step: [608, 30522] fp32 for ELECTRA-Small at batch 32). bf16 logits are
// read as they are: the loss in fp32 on their exact fp32 values, their gradient rounded to bf16
// once, the same bits as widening them first and casting the fp32 gradient back, two passes
// fewer. Elsewhere (another device or dtype), ATen's ops.
#pragma once

#include <ATen/Tensor.h>

namespace electra::pretrain {

struct MlmLoss {
  at::Tensor loss;     // [] mean cross-entropy, differentiable in the logits
  at::Tensor correct;  // [] fp32: rows whose first argmax is the label
};

// Rows labelled kIgnoreLabel (filler targets, data::Batch::filler_targets) count nowhere: not
// in the mean, not in `correct`, no gradient (ATen's cross-entropy default ignore_index).
constexpr int64_t kIgnoreLabel = -100;

// logits: [m, vocab] (m >= 1), fp32 (or bf16 on the CPU, or bf16/fp16 on CUDA where
// cuda_mlm_loss_supports); loss and correct are fp32; labels: [m] int64 in [0, vocab) or
// kIgnoreLabel, at least one not ignored.
MlmLoss mlm_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

// The CUDA kernels (model/cuda/mlm_loss_kernels.h). mlm_cross_entropy takes them when enabled,
// opt-in until measured on a GPU: a build with them and the environment variable
// ELECTRA_CUDA_MLM_LOSS "1" (read once). They read fp32, bf16 or fp16 logits as they are, with
// rows apart by more than their length (the padded head's view) in place, and never wait for
// the device: the mean's count is taken there. The loss and the count are the CPU path's (the
// mean summed in fp64); the rounding of exp and of the sums may differ from it and from ATen's
// in the last bits.
bool cuda_mlm_loss_enabled();
// Whether the kernels take these: a build with them, [m, vocab] CUDA logits (m >= 1) in fp32,
// bf16 or fp16, [m] int64 labels on the same device.
bool cuda_mlm_loss_supports(const at::Tensor& logits, const at::Tensor& labels);
MlmLoss cuda_mlm_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

namespace detail {
// The row loops (pretrain/mlm_loss_rows.cpp, -ffast-math for glibc's vector expf).
// Per row: lse = max + log(sum exp(x - max)); argmax = the first index of the max.
void mlm_rows_forward(const float* logits, int64_t rows, int64_t vocab, float* lse,
                      int32_t* argmax);
// grad[r, j] = scale * (exp(x[r, j] - lse[r]) - (j == labels[r])); 0 where labels[r] < 0.
void mlm_rows_backward(const float* logits, const float* lse, const int64_t* labels, float scale,
                       int64_t rows, int64_t vocab, float* grad);
// The same on bf16 logits (raw bits), the gradient rounded to bf16.
void mlm_rows_forward_bf16(const uint16_t* logits, int64_t rows, int64_t vocab, float* lse,
                           int32_t* argmax);
void mlm_rows_backward_bf16(const uint16_t* logits, const float* lse, const int64_t* labels,
                            float scale, int64_t rows, int64_t vocab, uint16_t* grad);
}  // namespace detail

}  // namespace electra::pretrain
