// model/cuda_linear.h on the GPU: the column sums against ATen's sums, the per-block sums'
// reduction, and the linear node against at::linear with the casts in values and gradients,
// for fp32, bf16 and fp16. Skipped without a CUDA device or without the kernels in the build.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "model/add_layer_norm.h"
#include "model/cuda_linear.h"
#include "model/encoder.h"
#include "tests/support/cuda_kernels.h"

namespace electra::model {
namespace {

#define SKIP_WITHOUT_KERNELS()         \
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS(); \
  if (!cuda_bias_grad_enabled()) GTEST_SKIP() << "ELECTRA_CUDA_BIAS_GRAD=0"

const at::Device kCuda(at::kCUDA, 0);

// max |a - b| / (|b| + 1) over the elements, in double (the sums are compared with exact ones).
double rel_err(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kCPU).to(at::kDouble), y = b.to(at::kCPU).to(at::kDouble);
  return ((x - y).abs() / (y.abs() + 1)).max().item<double>();
}

// One unit of dt where a sum rounds the other way; for fp32, sums in another order.
double unit(at::ScalarType dt) {
  return std::max(testing::unit(dt), 1e-5);
}

TEST(CudaColumnSums, MatchSumsInDoubleAndRepeatBitForBit) {
  SKIP_WITHOUT_KERNELS();
  struct Shape {
    int64_t rows, cols;
  };
  // ELECTRA-Base's bias gradients (768, 2304 columns), rows that fill no block of 256, columns
  // that fill no block of 128, one row.
  for (const Shape s : {Shape{16384, 768}, Shape{4099, 2304}, Shape{300, 20}, Shape{1, 4}}) {
    for (const auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
      SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.cols << " " << dt);
      torch::manual_seed(5);
      const at::Tensor g = (at::randn({s.rows, s.cols}) + 0.25).to(dt).to(kCuda);
      ASSERT_TRUE(cuda_column_sums_supports(g));
      const at::Tensor got = cuda_column_sums(g);  // [cols] fp32
      EXPECT_EQ(got.scalar_type(), at::kFloat);
      ASSERT_EQ(got.numel(), s.cols);
      // The exact sum of the same (already rounded) elements, against fp32 accumulation.
      EXPECT_LT(rel_err(got, g.to(at::kDouble).sum(0)), 1e-5);
      EXPECT_TRUE(at::equal(got, cuda_column_sums(g)));
      // Rounded in the kernel: the bits of a cast of the fp32 sums.
      const at::Tensor low = cuda_column_sums(g, dt);
      EXPECT_EQ(low.scalar_type(), dt);
      EXPECT_TRUE(at::equal(low, got.to(dt)));
    }
  }
  const at::Tensor empty = at::empty({0, 8}, at::TensorOptions(kCuda).dtype(at::kBFloat16));
  EXPECT_TRUE(at::equal(cuda_column_sums(empty).cpu(), at::zeros({8})));
  EXPECT_TRUE(
      at::equal(cuda_column_sums(empty, at::kBFloat16).cpu(), at::zeros({8}, at::kBFloat16)));
  EXPECT_FALSE(cuda_column_sums_supports(at::zeros({4, 6}, at::TensorOptions(kCuda))));
  EXPECT_FALSE(cuda_column_sums_supports(at::zeros({4, 8})));
}

TEST(CudaColumnSums, SumRowsAddsThePartialsInOrder) {
  SKIP_WITHOUT_KERNELS();
  torch::manual_seed(6);
  for (const int64_t p : {1, 33, 513}) {
    const at::Tensor partial = at::randn({p, 2, 37}).to(kCuda);  // [P, 2, 37]
    const at::Tensor got = cuda_sum_rows(partial);               // [2, 37]
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 37}));
    EXPECT_LT(rel_err(got, partial.to(at::kDouble).sum(0)), 1e-5) << p;
    for (const auto dt : {at::kBFloat16, at::kHalf})
      EXPECT_TRUE(at::equal(cuda_sum_rows(partial, dt), got.to(dt))) << p << " " << dt;
  }
}

TEST(CudaLinear, GivesAtenLinearsValuesAndGradients) {
  SKIP_WITHOUT_KERNELS();
  for (const auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(::testing::Message() << dt);
    torch::manual_seed(8);
    const at::Tensor x0 = at::randn({3, 70, 64}).to(dt).to(kCuda);  // [3, 70, 64]
    const at::Tensor w0 = (at::randn({96, 64}) * 0.1).to(kCuda);    // [96, 64] fp32 master
    const at::Tensor b0 = at::randn({96}).to(kCuda);                // [96] fp32 master
    const at::Tensor gy = at::randn({3, 70, 96}).to(dt).to(kCuda);
    std::vector<at::Tensor> runs[2];
    for (const bool ours : {false, true}) {
      const at::Tensor x = x0.clone().requires_grad_(true);
      const at::Tensor w = w0.clone().requires_grad_(true);
      const at::Tensor b = b0.clone().requires_grad_(true);
      ASSERT_TRUE(cuda_linear_supports(x, w, b));
      const at::Tensor out = ours ? cuda_linear(x, w, b) : at::linear(x, w.to(dt), b.to(dt));
      if (ours) {
        ASSERT_TRUE(out.grad_fn());
        EXPECT_NE(out.grad_fn()->name().find("CudaLinear"), std::string::npos)
            << out.grad_fn()->name();
      }
      out.backward(gy);
      runs[ours] = {out.detach(), x.grad(), w.grad(), b.grad()};
    }
    // The same addmm on the same values.
    EXPECT_TRUE(at::equal(runs[1][0], runs[0][0]));
    EXPECT_EQ(runs[1][1].scalar_type(), dt);
    EXPECT_EQ(runs[1][2].scalar_type(), at::kFloat);
    EXPECT_EQ(runs[1][3].scalar_type(), at::kFloat);
    // x's: the same product; w's: the transposed product, rounded to dt and widened on both
    // sides (a unit of dt where the sums round apart); b's: fp32 sums here, ATen's rounded to dt.
    EXPECT_LT(rel_err(runs[1][1], runs[0][1]), unit(dt));
    EXPECT_LT(rel_err(runs[1][2], runs[0][2]), 2 * unit(dt));
    EXPECT_LT(rel_err(runs[1][3], runs[0][3]), 2 * unit(dt) + 1e-5);
    EXPECT_LT(rel_err(runs[1][3], gy.reshape({-1, 96}).to(at::kDouble).sum(0)), 1e-5);
  }
}

TEST(CudaLinear, TheEncodersLinearUsesItWithAGradient) {
  SKIP_WITHOUT_KERNELS();
  const at::Tensor x = at::randn({4, 8}).to(kCuda).to(at::kBFloat16);
  const at::Tensor w = at::randn({12, 8}).to(kCuda).requires_grad_(true);
  const at::Tensor b = at::randn({12}).to(kCuda).requires_grad_(true);
  const at::Tensor y = linear(x, w, b);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_NE(y.grad_fn()->name().find("CudaLinear"), std::string::npos) << y.grad_fn()->name();
  // Output widths no 4-element vector covers, and CPU tensors, keep ATen's linear.
  EXPECT_FALSE(cuda_linear_supports(x, w.narrow(0, 0, 10), b.narrow(0, 0, 10)));
  EXPECT_FALSE(cuda_linear_supports(x.cpu(), w.cpu(), b.cpu()));
}

// The generator head's padded product on CUDA (bf16, BERT's vocabulary): at::linear's values and
// gradients, and the head pads in training only.
TEST(PaddedVocabLinear, MatchesTheUnpaddedHeadOnCuda) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  torch::manual_seed(9);
  const at::Tensor x0 = at::randn({300, 128}).to(at::kBFloat16).to(kCuda);  // [300, emb]
  const at::Tensor w0 = (at::randn({30522, 128}) * 0.05).to(kCuda);         // [vocab, emb]
  const at::Tensor b0 = (at::randn({30522}) * 0.05).to(kCuda);              // [vocab]
  const at::Tensor gy = (at::randn({300, 30522}) * 1e-3).to(at::kBFloat16).to(kCuda);
  std::vector<at::Tensor> runs[2];
  for (const bool padded : {false, true}) {
    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor w = w0.clone().requires_grad_(true);
    const at::Tensor b = b0.clone().requires_grad_(true);
    const at::Tensor y = padded ? padded_vocab_linear(x, w, b, 64)
                                : at::linear(x, w.to(at::kBFloat16), b.to(at::kBFloat16));
    if (padded) {
      EXPECT_EQ(y.stride(0), 30528);
    }
    y.backward(gy);
    runs[padded] = {y.detach(), x.grad(), w.grad(), b.grad()};
  }
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(runs[1][i].sizes(), runs[0][i].sizes());
    EXPECT_EQ(runs[1][i].scalar_type(), runs[0][i].scalar_type());
    // bf16 products of other tile shapes: a unit or two of bf16 apart.
    EXPECT_LT(rel_err(runs[1][i], runs[0][i]), 2 * unit(at::kBFloat16));
  }
  const at::Tensor x = x0.clone();
  const char* sw = std::getenv("ELECTRA_CUDA_PAD_VOCAB");
  EXPECT_EQ(pad_vocab_enabled(x), !(sw && std::string(sw) == "0"));
  {
    const at::NoGradGuard no_grad;
    EXPECT_FALSE(pad_vocab_enabled(x));  // evaluation keeps its cached weight casts
  }
  EXPECT_FALSE(pad_vocab_enabled(x.to(at::kFloat)));
}

}  // namespace
}  // namespace electra::model
