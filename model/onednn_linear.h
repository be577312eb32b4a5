// Linear layers without grad mode on oneDNN's matmul primitive (bf16 or fp32 on the CPU):
// evaluation, inference and `electra bench --inference`, and the forward of training's autograd
// nodes (model/bf16_linear.h, model/feed_forward.h), which run without grad mode. ATen's addmm
// copies the bias across the output and then reads that output back into the product (in bf16,
// measured ~0.6-0.9 ms of a 4.3 ms [4096, 256] x [256, 768] product here), and every ATen product
// packs the weight again. The primitive adds the bias inside the product, can apply the GELU there
// too, and takes the weight in the blocked layout it wants, packed once per weight and kept
// (model/weight_cast.h).
//
// Memory: each weight's packed copy lives as long as the weight and its version (in fp32, a
// second copy of the weights; in bf16, half of one). Each optimizer step moves the versions,
// and the next forward packs each weight again in place of its stale copy.
//
// Built where oneDNN 2.x's headers are found (Debian's libdnnl-dev; ELECTRA_ONEDNN in
// model/CMakeLists.txt): the same libdnnl.so.2 that Debian's LibTorch links. Elsewhere (a pip
// LibTorch, which hides its own copy) the callers keep ATen's products.
#pragma once

#include <ATen/Tensor.h>

namespace electra::model {

enum class Epilogue {
  kNone,
  kGelu,      // erf GELU (HF "gelu")
  kGeluTanh,  // tanh GELU (HF "gelu_new")
};

// Whether this process runs such products on oneDNN: a build with it, and ELECTRA_ONEDNN_LINEAR
// not "0" (`electra bench` reports it as "eval_linear").
bool onednn_linear_enabled();

// Whether onednn_linear() takes x with weight w: a build with oneDNN, no gradient mode, CPU
// tensors, w [out, in], x bf16 with w fp32 or bf16, or both fp32, and ELECTRA_ONEDNN_LINEAR not
// "0".
bool onednn_linear_supports(const at::Tensor& x, const at::Tensor& w);

// act(x w^T + b): x [..., in], w [out, in], b [out] or undefined/empty -> [..., out] in x's
// dtype. In bf16, w and b are used rounded to bf16 (as at::linear(x, w.to(bf16), b.to(bf16))
// takes them); the product accumulates in fp32, the bias and the activation apply to that fp32
// sum, and the result is rounded once. (ATen rounds the product before its GELU: results may
// differ from it by one bf16 step. In fp32 they differ by the sums' order.)
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                         Epilogue epilogue);

// Primitives built so far (one per shape and epilogue), for tests.
size_t onednn_linear_primitives();

}  // namespace electra::model
