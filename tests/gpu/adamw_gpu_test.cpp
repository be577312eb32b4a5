// The CUDA AdamW kernel (pretrain/adamw_cuda.h, model/cuda/adamw_kernels.h) against the CPU
// pass it mirrors and, on LibTorch 2.1+, ATen's multi-tensor AdamW: more tensors than one launch
// takes, sizes with tails past the last whole vector, a skipped step, and the bias corrections
// read from the device. Skipped without a CUDA device or without the kernels in the build.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "pretrain/adamw_cuda.h"
#include "pretrain/adamw_kernel.h"
#include "pretrain/optimizer.h"
#include "tests/support/cuda_kernels.h"

namespace electra::pretrain {
namespace {

const at::Device kCuda(at::kCUDA, 0);

struct State {
  std::vector<at::Tensor> p, g, m, v;  // on the CPU
  State on(const at::Device& d) const {
    State s;
    for (size_t i = 0; i < p.size(); ++i) {
      s.p.push_back(p[i].to(d).clone());
      s.g.push_back(g[i].to(d).clone());
      s.m.push_back(m[i].to(d).clone());
      s.v.push_back(v[i].to(d).clone());
    }
    return s;
  }
};

// 70 tensors (two launches) of sizes with and without tails: 1, 3, 5, 4096 + 3, ...
State random_state() {
  torch::manual_seed(17);
  State s;
  for (int i = 0; i < 70; ++i) {
    const int64_t n = i % 7 == 0 ? 4096 * (i / 7) + 3 : 1 + (i * 37) % 301;
    s.p.push_back(at::randn({n}));
    s.g.push_back(at::randn({n}) * 0.1);
    s.m.push_back(at::randn({n}) * 0.01);
    s.v.push_back(at::rand({n}) * 1e-3);
  }
  return s;
}

TEST(CudaAdamW, MatchesTheCpuPass) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const State cpu = random_state();
  const State gpu = cpu.on(kCuda);
  const double lr = 2e-3, wd = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  const int64_t step = 3;
  const int64_t version = gpu.p[5]._version();
  const auto opts = at::TensorOptions().device(kCuda).dtype(at::kFloat);
  cuda_adamw(gpu.p, gpu.g, gpu.m, gpu.v,
             {lr, beta1, beta2, wd, eps, at::full({}, static_cast<double>(step), opts), {}});
  EXPECT_GT(gpu.p[5]._version(), version);  // weight caches see the change
  const double bc1 = 1.0 - std::pow(beta1, step), bc2 = 1.0 - std::pow(beta2, step);
  const detail::AdamWScalars s{
      static_cast<float>(beta1),         static_cast<float>(beta2),
      static_cast<float>(1.0 - beta1),   static_cast<float>(1.0 - beta2),
      static_cast<float>(1.0 - lr * wd), static_cast<float>(std::sqrt(bc2)),
      static_cast<float>(eps),           static_cast<float>(lr / bc1)};
  for (size_t i = 0; i < cpu.p.size(); ++i) {
    detail::adamw_cpu(cpu.p[i].data_ptr<float>(), cpu.g[i].data_ptr<float>(),
                      cpu.m[i].data_ptr<float>(), cpu.v[i].data_ptr<float>(), cpu.p[i].numel(), s);
    // The same fp32 operations; a multiply-add contracted on one side only moves an ulp.
    EXPECT_TRUE(at::allclose(gpu.p[i].cpu(), cpu.p[i], 1e-6, 1e-7)) << "p " << i;
    EXPECT_TRUE(at::allclose(gpu.m[i].cpu(), cpu.m[i], 1e-6, 1e-9)) << "m " << i;
    EXPECT_TRUE(at::allclose(gpu.v[i].cpu(), cpu.v[i], 1e-6, 1e-12)) << "v " << i;
  }
}

TEST(CudaAdamW, ASkippedStepChangesNothing) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const State before = random_state();
  const State gpu = before.on(kCuda);
  const auto opts = at::TensorOptions().device(kCuda).dtype(at::kFloat);
  cuda_adamw(gpu.p, gpu.g, gpu.m, gpu.v,
             {1e-2, 0.9, 0.999, 0.01, 1e-6, at::full({}, 4.0, opts), at::full({}, 1.0, opts)});
  for (size_t i = 0; i < before.p.size(); ++i) {
    EXPECT_TRUE(at::equal(gpu.p[i].cpu(), before.p[i])) << i;
    EXPECT_TRUE(at::equal(gpu.m[i].cpu(), before.m[i])) << i;
    EXPECT_TRUE(at::equal(gpu.v[i].cpu(), before.v[i])) << i;
  }
  // found_inf 0: the step is taken.
  cuda_adamw(gpu.p, gpu.g, gpu.m, gpu.v,
             {1e-2, 0.9, 0.999, 0.01, 1e-6, at::full({}, 4.0, opts), at::full({}, 0.0, opts)});
  EXPECT_FALSE(at::equal(gpu.p[0].cpu(), before.p[0]));
}

TEST(CudaAdamW, TakesOnlyAlignedContiguousFp32) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const auto f32 = at::TensorOptions().device(kCuda).dtype(at::kFloat);
  const at::Tensor a = at::zeros({64}, f32);
  EXPECT_TRUE(cuda_adamw_supports({a}, {a.clone()}, {a.clone()}, {a.clone()}));
  EXPECT_FALSE(cuda_adamw_supports({a.narrow(0, 1, 8)}, {a.narrow(0, 1, 8)}, {a.narrow(0, 1, 8)},
                                   {a.narrow(0, 1, 8)}));  // 4-byte offset
  const at::Tensor h = at::zeros({64}, f32.dtype(at::kBFloat16));
  EXPECT_FALSE(cuda_adamw_supports({h}, {h}, {h}, {h}));
  EXPECT_FALSE(cuda_adamw_supports({a}, {a.clone().narrow(0, 0, 60)}, {a}, {a}));  // sizes
  EXPECT_FALSE(cuda_adamw_supports({a.cpu()}, {a.cpu()}, {a.cpu()}, {a.cpu()}));
}

#if ELECTRA_HAS_FUSED_ADAMW
// The kernel ATen's path would run instead: the same update up to the order of fp32 operations.
TEST(CudaAdamW, MatchesAtensMultiTensorAdamW) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const State ours = random_state().on(kCuda), aten = random_state().on(kCuda);
  const auto opts = at::TensorOptions().device(kCuda).dtype(at::kFloat);
  const at::Tensor step = at::full({}, 7.0, opts);
  cuda_adamw(ours.p, ours.g, ours.m, ours.v, {1e-3, 0.9, 0.999, 0.01, 1e-6, step, at::Tensor()});
  const std::vector<at::Tensor> steps(aten.p.size(), step);
  at::_fused_adamw_(aten.p, aten.g, aten.m, aten.v, /*max_exp_avg_sqs=*/{}, steps, 1e-3, 0.9, 0.999,
                    0.01, 1e-6, /*amsgrad=*/false, /*maximize=*/false);
  // Relative to |value| + 1: a few fp32 ulps of p (~4 at most here), and of the small moments.
  for (size_t i = 0; i < ours.p.size(); ++i) {
    EXPECT_LT(electra::testing::rel_err(ours.p[i], aten.p[i]), 2e-6) << "p " << i;
    EXPECT_LT(electra::testing::rel_err(ours.m[i], aten.m[i]), 1e-7) << "m " << i;
    EXPECT_LT(electra::testing::rel_err(ours.v[i], aten.v[i]), 1e-9) << "v " << i;
  }
}
#endif

}  // namespace
}  // namespace electra::pretrain
