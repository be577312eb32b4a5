// gelu_linear (GELU recomputed in backward) against plain autograd: same values, same grads.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "model/gelu_linear.h"

namespace electra::model {
namespace {

TEST(GeluLinearTest, MatchesPlainAutogradInValueAndGradient) {
  for (const char* approx : {"none", "tanh"}) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(std::string(approx) + (with_bias ? " bias" : " no bias"));
      torch::manual_seed(1);
      at::Tensor pre = at::randn({3, 5, 16}).requires_grad_(true);  // [b, l, F]
      at::Tensor w = at::randn({8, 16}).requires_grad_(true);       // [out, F]
      at::Tensor b = with_bias ? at::randn({8}).requires_grad_(true) : at::Tensor();
      at::Tensor gy = at::randn({3, 5, 8});

      at::Tensor ref = at::linear(at::gelu(pre, approx), w, b);
      auto ref_grads = torch::autograd::grad(
          {ref}, with_bias ? std::vector<at::Tensor>{pre, w, b} : std::vector<at::Tensor>{pre, w},
          {gy});
      at::Tensor out = gelu_linear(pre, w, b, approx);
      auto grads = torch::autograd::grad(
          {out}, with_bias ? std::vector<at::Tensor>{pre, w, b} : std::vector<at::Tensor>{pre, w},
          {gy});
      EXPECT_TRUE(at::allclose(out, ref, 1e-6, 1e-6));
      ASSERT_EQ(grads.size(), ref_grads.size());
      for (size_t i = 0; i < grads.size(); ++i)
        EXPECT_TRUE(at::allclose(grads[i], ref_grads[i], 1e-5, 1e-5)) << "gradient " << i;
    }
  }
}

}  // namespace
}  // namespace electra::model
