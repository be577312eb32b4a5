// model/param_cast.h on the GPU: the multi-tensor cast kernel (model/cuda/multi_cast_kernels.h)
// against ATen's casts, for tensors from 1 to 70,001 elements and more tensors than one launch
// takes, in both directions. Skipped without a CUDA device or without the kernels in the build.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "model/param_cast.h"
#include "tests/support/cuda_kernels.h"

namespace electra::model {
namespace {

const at::Device kCuda(at::kCUDA, 0);

TEST(ParamCastGpu, TheMultiTensorCastIsAtensCastBothWays) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  // 150 tensors: three launches of up to 64. Sizes with tails past the last whole vector,
  // exactly one block of 4096, one more, and several blocks.
  const std::vector<int64_t> sizes{1, 3, 4, 5, 8, 13, 4095, 4096, 4097, 70001};
  for (const auto dt : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(c10::toString(dt));
    torch::manual_seed(3);
    std::vector<at::Tensor> params, weights;
    for (int i = 0; i < 150; ++i) {
      const int64_t n = sizes[static_cast<size_t>(i) % sizes.size()];
      // Values that round differently in bf16 and fp16, some past fp16's range.
      params.push_back((at::randn({n}) * (i % 7 == 0 ? 1e5 : 3.0)).to(kCuda).requires_grad_(true));
      weights.push_back(at::randn({n}).to(kCuda));  // [n] fp32: the loss's weights
    }
    at::Tensor loss = at::zeros({}, at::TensorOptions().device(kCuda));
    {
      const ParamCastScope scope(params, dt);
      for (size_t i = 0; i < params.size(); ++i) {
        const at::Tensor c = scoped_cast(params[i], dt);
        ASSERT_TRUE(c.defined()) << i;
        ASSERT_EQ(c.scalar_type(), dt);
        EXPECT_TRUE(at::equal(c, params[i].detach().to(dt))) << i;
        if (i % 5 != 4) loss = loss + (c.to(at::kFloat) * weights[i]).sum();  // every 5th unused
      }
    }
    loss.backward();
    for (size_t i = 0; i < params.size(); ++i) {
      if (i % 5 == 4) {
        EXPECT_FALSE(params[i].grad().defined()) << i;
        continue;
      }
      // The cast's gradient is weights[i] rounded to dt, widened back exactly.
      ASSERT_TRUE(params[i].grad().defined()) << i;
      EXPECT_TRUE(at::equal(params[i].grad(), weights[i].to(dt).to(at::kFloat))) << i;
    }
  }
}

}  // namespace
}  // namespace electra::model
