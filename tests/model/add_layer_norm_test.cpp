// fused_add_layer_norm against the eager order in ATen ops (dropout in y's dtype, the add and
// LayerNorm in fp32): values and the gradients of all four inputs, fp32 and bf16, with and
// without dropout; and the same bits on one thread and on two.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/add_layer_norm.h"
#include "model/cuda/dropout_hash.h"
#include "model/fast_random.h"

namespace electra::model {
namespace {

struct Inputs {
  at::Tensor y, residual, weight, bias;  // [3, 70, 48] in dt, [3, 70, 48], [48], [48] fp32
  std::vector<at::Tensor> all() const { return {y, residual, weight, bias}; }
};

Inputs make_inputs(at::ScalarType dt) {
  torch::manual_seed(2);
  auto leaf = [](at::Tensor t) { return t.requires_grad_(true); };
  // 210 rows: more than one 64-row block, and a partial last one.
  return {leaf(at::randn({3, 70, 48}).to(dt)), leaf(at::randn({3, 70, 48}) * 2 + 1),
          leaf(at::rand({48}) + 0.5), leaf(at::randn({48}))};
}

at::Tensor reference(const Inputs& in, double p) {
  const at::Tensor y = model::dropout(in.y, p, /*training=*/p > 0);
  return at::layer_norm(y.to(at::kFloat) + in.residual, {48}, in.weight, in.bias, 1e-12);
}

// Every element of a within tol * (|b| + 1) of b's.
bool close(const at::Tensor& a, const at::Tensor& b, double tol) {
  const at::Tensor x = a.to(at::kFloat), y = b.to(at::kFloat);
  return ((x - y).abs() <= (y.abs() + 1) * tol).all().item<bool>();
}

TEST(AddLayerNorm, MatchesTheEagerOrderInValuesAndGradients) {
  for (const auto dt : {at::kFloat, at::kBFloat16}) {
    for (const double p : {0.0, 0.1}) {
      SCOPED_TRACE(std::string(dt == at::kFloat ? "fp32" : "bf16") + " p " + std::to_string(p));
      const Inputs ours = make_inputs(dt), ref = make_inputs(dt);
      const at::Tensor g = at::randn({3, 70, 48});
      torch::manual_seed(9);
      const at::Tensor out =
          fused_add_layer_norm(ours.y, ours.residual, ours.weight, ours.bias, 1e-12, p);
      torch::manual_seed(9);
      const at::Tensor expected = reference(ref, p);
      ASSERT_EQ(out.scalar_type(), at::kFloat);
      // fp32 sums in another order: measured ~1e-6.
      EXPECT_TRUE(close(out, expected, 1e-5));
      const auto grads = torch::autograd::grad({out}, ours.all(), {g});
      const auto expected_grads = torch::autograd::grad({expected}, ref.all(), {g});
      for (size_t i = 0; i < grads.size(); ++i) {
        ASSERT_EQ(grads[i].scalar_type(), expected_grads[i].scalar_type()) << "gradient " << i;
        // bf16's gradient of y is rounded twice (the cast back, then dropout), as there; an
        // fp32 difference of 1e-6 can flip one rounding: one bf16 step.
        EXPECT_TRUE(
            close(grads[i], expected_grads[i], i == 0 && dt != at::kFloat ? 1.0 / 128 : 1e-5))
            << "gradient " << i;
        EXPECT_GT(grads[i].abs().sum().item<double>(), 1.0) << "gradient " << i;
      }
      if (p > 0) {  // dropout ran: y's gradient is zero exactly where y was dropped
        const int64_t dropped = (grads[0] == 0).sum().item<int64_t>();
        EXPECT_GT(dropped, 500) << "of 10080";
        EXPECT_LT(dropped, 1500);
      }
    }
  }
}

TEST(AddLayerNorm, AddsTheDenseBiasTheProductLeftOut) {
  // fp32: LayerNorm(dropout(y + y_bias) + residual), y_bias's gradient the sum of y's.
  const Inputs ours = make_inputs(at::kFloat), ref = make_inputs(at::kFloat);
  const at::Tensor y_bias = at::randn({48}).requires_grad_(true);
  const at::Tensor ref_bias = y_bias.detach().clone().requires_grad_(true);
  const at::Tensor g = at::randn({3, 70, 48});
  torch::manual_seed(9);
  const at::Tensor out =
      fused_add_layer_norm(ours.y, ours.residual, ours.weight, ours.bias, 1e-12, 0.1, y_bias);
  torch::manual_seed(9);
  const Inputs biased{ref.y + ref_bias, ref.residual, ref.weight, ref.bias};
  const at::Tensor expected = reference(biased, 0.1);
  EXPECT_TRUE(close(out, expected, 1e-5));
  auto inputs = ours.all(), ref_inputs = ref.all();
  inputs.push_back(y_bias);
  ref_inputs.push_back(ref_bias);
  const auto grads = torch::autograd::grad({out}, inputs, {g});
  const auto expected_grads = torch::autograd::grad({expected}, ref_inputs, {g});
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_TRUE(close(grads[i], expected_grads[i], 1e-5)) << "gradient " << i;
  EXPECT_GT(grads.back().abs().sum().item<double>(), 1.0);
  // A bias of another width is refused.
  EXPECT_THROW(fused_add_layer_norm(ours.y, ours.residual, ours.weight, ours.bias, 1e-12, 0.0,
                                    at::randn({47})),
               std::runtime_error);
}

TEST(AddLayerNorm, AddsTheDenseBiasToABf16ProductInFp32) {
  // bf16 y: y + y_bias and the dropout in fp32 from the cast on, so the reference is the fp32
  // formula on the bf16 values; y's gradient rounded once, y_bias's the fp32 sum before it.
  for (const double p : {0.0, 0.1}) {
    SCOPED_TRACE("p " + std::to_string(p));
    const Inputs ours = make_inputs(at::kBFloat16), ref = make_inputs(at::kBFloat16);
    const at::Tensor y_bias = (at::randn({48}) * 3).requires_grad_(true);
    const at::Tensor ref_bias = y_bias.detach().clone().requires_grad_(true);
    const at::Tensor g = at::randn({3, 70, 48});
    torch::manual_seed(9);
    const at::Tensor out =
        fused_add_layer_norm(ours.y, ours.residual, ours.weight, ours.bias, 1e-12, p, y_bias);
    torch::manual_seed(9);
    const Inputs biased{ref.y.to(at::kFloat) + ref_bias, ref.residual, ref.weight, ref.bias};
    const at::Tensor expected = reference(biased, p);
    EXPECT_TRUE(close(out, expected, 1e-5));
    // Rounding y + y_bias to bf16 (what addmm's output holds) would move it by up to a bf16
    // step of |y + y_bias| ~ 3: far outside the bound above.
    torch::manual_seed(9);
    const at::Tensor rounded = reference(
        {(ref.y.to(at::kFloat) + ref_bias).to(at::kBFloat16), ref.residual, ref.weight, ref.bias},
        p);
    EXPECT_FALSE(close(rounded.detach(), expected.detach(), 1e-5));
    auto inputs = ours.all(), ref_inputs = ref.all();
    inputs.push_back(y_bias);
    ref_inputs.push_back(ref_bias);
    const auto grads = torch::autograd::grad({out}, inputs, {g});
    const auto expected_grads = torch::autograd::grad({expected}, ref_inputs, {g});
    for (size_t i = 0; i < grads.size(); ++i) {
      ASSERT_EQ(grads[i].scalar_type(), expected_grads[i].scalar_type()) << "gradient " << i;
      // y's: the same single rounding of an fp32 value that may differ by ~1e-6 (one step).
      EXPECT_TRUE(close(grads[i], expected_grads[i], i == 0 ? 1.0 / 128 : 1e-5))
          << "gradient " << i;
      EXPECT_GT(grads[i].abs().sum().item<double>(), 1.0) << "gradient " << i;
    }
  }
}

TEST(AddLayerNorm, Bf16CopyIsTheCastOutputAndTakesItsGradient) {
  // {out, low} against out = fused_add_layer_norm(...), low = out.to(bf16): the same bits in
  // values and in every gradient, with both outputs' gradients fed back, with only one of them
  // (the other output unused), and with a deferred dense bias.
  const at::Tensor g = at::randn({3, 70, 48});
  const at::Tensor g_low = at::randn({3, 70, 48}).to(at::kBFloat16);
  for (const int used : {3, 1, 2}) {  // bit 0: out's gradient, bit 1: low's
    for (const bool with_bias : {false, true}) {
      SCOPED_TRACE("used " + std::to_string(used) + (with_bias ? " with y_bias" : ""));
      const Inputs ours = make_inputs(at::kBFloat16), ref = make_inputs(at::kBFloat16);
      const at::Tensor b = with_bias ? at::randn({48}) : at::Tensor();
      torch::manual_seed(9);
      const auto outs = fused_add_layer_norm_hidden(ours.y, ours.residual, ours.weight, ours.bias,
                                                    1e-12, 0.1, b, /*low_copy=*/true);
      torch::manual_seed(9);
      const at::Tensor out =
          fused_add_layer_norm(ref.y, ref.residual, ref.weight, ref.bias, 1e-12, 0.1, b);
      const at::Tensor low = out.to(at::kBFloat16);
      ASSERT_EQ(outs.size(), 2u);
      ASSERT_EQ(outs[1].scalar_type(), at::kBFloat16);
      EXPECT_TRUE(at::equal(outs[0], out));
      EXPECT_TRUE(at::equal(outs[1], low));
      std::vector<at::Tensor> o, r, go;
      if (used & 1) o.push_back(outs[0]), r.push_back(out), go.push_back(g);
      if (used & 2) o.push_back(outs[1]), r.push_back(low), go.push_back(g_low);
      const auto grads = torch::autograd::grad(o, ours.all(), go);
      const auto expected = torch::autograd::grad(r, ref.all(), go);
      for (size_t i = 0; i < grads.size(); ++i) {
        EXPECT_TRUE(at::equal(grads[i], expected[i])) << "gradient " << i;
        EXPECT_GT(grads[i].abs().sum().item<double>(), 1.0) << "gradient " << i;
      }
    }
  }
  // fp32 y has no copy to give.
  const Inputs f = make_inputs(at::kFloat);
  EXPECT_EQ(
      fused_add_layer_norm_hidden(f.y, f.residual, f.weight, f.bias, 1e-12, 0.0, {}, true).size(),
      1u);
}

TEST(AddLayerNorm, SameBitsOnOneThreadAndOnTwo) {
  const int threads = at::get_num_threads();
  std::vector<at::Tensor> results[2];
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    const Inputs in = make_inputs(at::kFloat);
    torch::manual_seed(9);
    const at::Tensor out = fused_add_layer_norm(in.y, in.residual, in.weight, in.bias, 1e-12, 0.1);
    results[t - 1] = torch::autograd::grad({out}, in.all(), {at::ones_like(out)});
    results[t - 1].push_back(out.detach());
  }
  at::set_num_threads(threads);
  for (size_t i = 0; i < results[0].size(); ++i)
    EXPECT_TRUE(at::equal(results[0][i], results[1][i])) << "result " << i;
}

// The CUDA kernels' dropout mask (model/cuda/dropout_hash.h), which host code rebuilds: a
// known answer, its layout, its rate, and its dependence on the seed alone.
TEST(CudaDropoutMask, IsSplitmixOfTheGroupIndexAtTheRequestedRate) {
  // splitmix64's first output from state 0 (its published test value).
  EXPECT_EQ(detail::hash_draw(0, 0), 0xE220A8397B1DCDAFull);
  // Its four 16-bit fields, low first, decide elements 0..3: 0xCDAF, 0x7B1D, 0xA839, 0xE220.
  // With threshold 0x9000 the first, third and fourth are kept.
  EXPECT_EQ(detail::hash_keep4(0, 0, 0x9000), 0b1101u);
  for (uint64_t i = 0; i < 4; ++i)
    EXPECT_EQ(detail::hash_keep(0, i, 0x9000), i != 1) << i;
  EXPECT_EQ(detail::hash_keep4(0, 0, 0), 0xFu);
  EXPECT_TRUE(cuda_dropout_keep_mask(42, 3, 50, 0.0).all().item<bool>());
  // Element (r, j) is index r * h + j: the layout does not depend on the row split.
  EXPECT_TRUE(at::equal(cuda_dropout_keep_mask(42, 4, 25, 0.3).flatten(),
                        cuda_dropout_keep_mask(42, 1, 100, 0.3).flatten()));
  const at::Tensor keep = cuda_dropout_keep_mask(7, 400, 256, 0.1);  // 102,400 draws
  const double dropped = 1.0 - keep.to(at::kFloat).mean().item<double>();
  EXPECT_NEAR(dropped, 0.1, 5.0 * std::sqrt(0.1 * 0.9 / keep.numel()));
  EXPECT_TRUE(at::equal(keep, cuda_dropout_keep_mask(7, 400, 256, 0.1)));
  EXPECT_FALSE(at::equal(keep, cuda_dropout_keep_mask(8, 400, 256, 0.1)));
  EXPECT_EQ(detail::hash_threshold(0.1), 6554u);  // round(0.1 * 2^16)
  EXPECT_EQ(detail::hash_threshold(1e-12), 1u);   // any p > 0 drops something
}

// The CUDA kernel takes only CUDA tensors: on the CPU the model's switch changes nothing.
TEST(CudaAddLayerNorm, IsNotUsedForCpuTensors) {
  const Inputs in = make_inputs(at::kBFloat16);
  EXPECT_FALSE(cuda_add_layer_norm_supports(in.y, in.residual));
  EXPECT_FALSE(cuda_add_layer_norm_runs(true, at::Device(at::kCPU)));
  EXPECT_FALSE(cuda_add_layer_norm_runs(false, at::Device(at::kCUDA, 0)));
  EXPECT_EQ(cuda_add_layer_norm_runs(true, at::Device(at::kCUDA, 0)), cuda_add_layer_norm_built());
}

}  // namespace
}  // namespace electra::model
