// The encoder's products on CUDA (model::linear) as one autograd node per layer, for the bias
// gradient: ATen's linear sums it with a column reduction that ran at about a third of an
// H100's bandwidth (the 75 such sums of an ELECTRA-Base step were 2.3 ms of its 42 ms on the
// device); here it is model/cuda/column_sum_kernels.h's two launches. The forward is ATen's
// addmm on the flattened rows, the same product as at::linear's. Also the column sums
// themselves, for the other kernels' callers.
#pragma once

#include <ATen/Tensor.h>

namespace electra::model {

// Whether this process uses the CUDA column sums: a build with the CUDA kernels, and the
// environment variable ELECTRA_CUDA_BIAS_GRAD not "0" (the switch for A/B runs; read once).
bool cuda_bias_grad_enabled();

// Whether cuda_column_sums takes g: enabled, a contiguous-able [n, c] CUDA tensor in fp32, bf16
// or fp16, c a multiple of 4.
bool cuda_column_sums_supports(const at::Tensor& g);
// g: [n, c] -> its column sums, [c] in `out` (fp32, bf16 or fp16), summed in fp32 in a fixed
// order and rounded once: the bits of cuda_column_sums(g).to(out), without the cast's launch.
at::Tensor cuda_column_sums(const at::Tensor& g, at::ScalarType out = at::kFloat);

// partial: [P, ...] contiguous fp32 on CUDA (the per-block sums of our kernels) -> its sum over
// the first dimension, in block order, [...] in `out`, rounded as cuda_column_sums rounds.
at::Tensor cuda_sum_rows(const at::Tensor& partial, at::ScalarType out = at::kFloat);

// Whether cuda_linear takes these: enabled, x a CUDA tensor in fp32, bf16 or fp16, w [out, in]
// and b [out] (defined) in fp32 or x's dtype on x's device, out a multiple of 4.
bool cuda_linear_supports(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);
// x [..., in] -> x w^T + b, [..., out] in x's dtype: the values of at::linear(x, w.to(dt),
// b.to(dt)). Differentiable in all three: x's and w's gradients are ATen's products (w's cast
// to w's dtype), b's the fp32 column sums of the output's gradient, not rounded to x's dtype
// on the way as ATen's sum would round them.
at::Tensor cuda_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// The generator's output product, [n, emb] x [vocab, emb]^T, with the vocabulary padded to a
// multiple of `multiple` rows inside the product only. cuBLAS picks its fast kernels only for
// 16-byte aligned leading dimensions: BERT's 30,522 tokens (61,044 bytes in bf16) sent all three
// products of ELECTRA-Base's head to sm80 fallback kernels at ~230 TFLOP/s on an H100 (1.5 ms
// of a 43.7 ms step). Checkpoints keep [vocab, emb]; the copy into the padded matrix is the cast
// to x's dtype that the product makes anyway, and the rows past vocab are zeros.
//
// Whether the head pads: a CUDA x with a gradient (training; evaluation keeps its cached cast
// weights), and ELECTRA_CUDA_PAD_VOCAB not "0" (the A/B switch; read once).
bool pad_vocab_enabled(const at::Tensor& x);
// x [n, emb], w [vocab, emb], b [vocab] -> x w^T + b, [n, vocab] in x's dtype: a view, with row
// stride vocab rounded up to `multiple`, of the padded product (through model::linear).
// Differentiable in all three; the padded rows get no gradient. Any device (tested on the CPU).
at::Tensor padded_vocab_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                               int64_t multiple);

}  // namespace electra::model
