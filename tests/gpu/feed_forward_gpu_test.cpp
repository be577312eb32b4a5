// The CUDA GELU backward kernel of the feed-forward node (model/feed_forward.h,
// model/cuda/gelu_kernels.h): the kernel alone against ATen's gelu, gelu_backward and column sum,
// and the whole node with it against the node on ATen's ops, in values and all five gradients
// (also with the forward's GELU output kept for backward);
// fp32, bf16 and fp16, erf and tanh GELU, row and column counts that fill no block exactly.
// Skipped without a CUDA device or without the kernels in the build.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "model/add_layer_norm.h"
#include "model/feed_forward.h"
#include "tests/support/cuda_kernels.h"

namespace electra::model {
namespace {

using electra::testing::rel_err;
using electra::testing::unit;

const at::Device kCuda(at::kCUDA, 0);

TEST(CudaGeluBackward, MatchesAtensGeluGeluBackwardAndColumnSum) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  struct Shape {
    int64_t rows, f;
  };
  // 3072: ELECTRA-Base's intermediate size (6 column blocks of 512); 150 rows fill no block of
  // 64; 20 columns fill no warp.
  for (const Shape s : {Shape{150, 3072}, Shape{64, 20}, Shape{1, 516}}) {
    for (const auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
      for (const bool tanh_approx : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << s.rows << "x" << s.f << " " << dt << " tanh " << tanh_approx);
        torch::manual_seed(7);
        const at::Tensor pre = (at::randn({s.rows, s.f}) * 2).to(dt).to(kCuda);  // [n, F]
        const at::Tensor g = at::randn({s.rows, s.f}).to(dt).to(kCuda);          // [n, F]
        ASSERT_TRUE(cuda_gelu_backward_supports(pre, g));
        const char* approx = tanh_approx ? "tanh" : "none";
        const at::Tensor want_act = at::gelu(pre, approx);
        const at::Tensor want_d = at::gelu_backward(g, pre, approx);
        const at::Tensor want_sum = want_d.to(at::kFloat).sum(0);  // [F]
        const auto got = cuda_gelu_backward(pre, g.clone(), tanh_approx);
        ASSERT_EQ(got.size(), 3u);
        // Without the GELU's output: the same gradient and sums, bit for bit.
        const auto no_act = cuda_gelu_backward(pre, g.clone(), tanh_approx, /*with_act=*/false);
        EXPECT_FALSE(no_act[0].defined());
        EXPECT_TRUE(at::equal(no_act[1], got[1]));
        EXPECT_TRUE(at::equal(no_act[2], got[2]));
        // The sums rounded in the kernel: the bits of their cast.
        const auto low_sums = cuda_gelu_backward(pre, g.clone(), tanh_approx, true, dt);
        EXPECT_TRUE(at::equal(low_sums[2], got[2].to(dt)));
        EXPECT_EQ(got[0].scalar_type(), dt);
        EXPECT_EQ(got[1].scalar_type(), dt);
        EXPECT_EQ(got[2].scalar_type(), at::kFloat);
        // The same formula in fp32, rounded once: at most one unit apart (a contraction into
        // a fused multiply-add can differ).
        EXPECT_LT(rel_err(got[0], want_act), unit(dt));
        EXPECT_LT(rel_err(got[1], want_d), unit(dt));
        // Column sums of the kernel's own rounded values, in another order: fp32 ulps.
        EXPECT_LT(rel_err(got[2], got[1].to(at::kFloat).sum(0)), 1e-5);
        EXPECT_LT(rel_err(got[2], want_sum), 4 * unit(dt) + 1e-5);
      }
    }
  }
  // Columns that no 4-element vector covers go to ATen's ops.
  const at::Tensor odd = at::zeros({8, 30}, at::TensorOptions(kCuda).dtype(at::kBFloat16));
  EXPECT_FALSE(cuda_gelu_backward_supports(odd, odd));
  EXPECT_FALSE(cuda_gelu_backward_supports(odd.cpu(), odd.cpu()));
}

TEST(CudaGeluBackward, TheFeedForwardNodeGivesAtensValuesAndGradients) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const int64_t n = 2 * 67, h = 64, f = 256;  // [2, 67, 64] through [256] back to [64]
  for (const auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (const bool tanh_approx : {false, true}) {
      SCOPED_TRACE(::testing::Message() << dt << " tanh " << tanh_approx);
      torch::manual_seed(13);
      const at::Tensor x0 = at::randn({2, n / 2, h}).to(dt).to(kCuda);
      const at::Tensor w10 = (at::randn({f, h}) * 0.2).to(dt).to(kCuda);
      const at::Tensor b10 = (at::randn({f}) * 0.5).to(dt).to(kCuda);
      const at::Tensor w20 = (at::randn({h, f}) * 0.1).to(dt).to(kCuda);
      const at::Tensor b20 = at::randn({h}).to(dt).to(kCuda);
      const at::Tensor gy = at::randn({2, n / 2, h}).to(dt).to(kCuda);
      // ATen's ops; the kernel; the kernel with the forward's GELU output kept.
      std::vector<at::Tensor> runs[3];
      for (const int run : {0, 1, 2}) {
        std::vector<at::Tensor> leaves;
        for (const at::Tensor& t : {x0, w10, b10, w20, b20})
          leaves.push_back(t.detach().clone().requires_grad_(true));
        const at::Tensor out = gelu_feed_forward(leaves[0], leaves[1], leaves[2], leaves[3],
                                                 leaves[4], tanh_approx, /*fused_cuda=*/run > 0,
                                                 /*keep_act=*/run == 2);
        out.backward(gy);
        runs[run].push_back(out.detach().cpu());
        for (const at::Tensor& l : leaves) {
          ASSERT_TRUE(l.grad().defined());
          EXPECT_EQ(l.grad().scalar_type(), dt);
          runs[run].push_back(l.grad().cpu());
        }
      }
      // Kept, the GELU's output is ATen's forward one, which ATen's backward recomputes bit for
      // bit: w2's gradient is ATen's path's; the rest is the kernel's.
      for (size_t i = 0; i < runs[2].size(); ++i)
        EXPECT_TRUE(at::equal(runs[2][i], runs[i == 4 ? 0 : 1][i])) << "kept, " << i;
      // The forward is the same code both ways.
      EXPECT_TRUE(at::equal(runs[0][0], runs[1][0]));
      // d pre may differ by one unit where a contraction differs, and the products spread it.
      const double tol = dt == at::kFloat ? 1e-5 : 4 * unit(dt);
      const char* names[] = {"out", "x", "w1", "b1", "w2", "b2"};
      for (size_t i = 1; i < runs[0].size(); ++i)
        EXPECT_LT(rel_err(runs[1][i], runs[0][i]), tol) << names[i];
      // b2's gradient does not pass through the kernel.
      EXPECT_TRUE(at::equal(runs[1][5], runs[0][5]));
    }
  }
}

}  // namespace
}  // namespace electra::model
