#include "model/param_cast.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <vector>

namespace electra::model {
namespace {

// ATen operators dispatched by fn (nested ones included).
int64_t ops_in(const std::function<void()>& fn) {
  static std::atomic<int64_t> count{0};
  count = 0;
  const auto handle =
      at::addGlobalCallback(at::RecordFunctionCallback([](const at::RecordFunction&)
                                                           -> std::unique_ptr<at::ObserverContext> {
                              count.fetch_add(1, std::memory_order_relaxed);
                              return nullptr;
                            }).scopes({at::RecordScope::FUNCTION}));
  fn();
  at::removeCallback(handle);
  return count.load();
}

struct Params {
  std::vector<at::Tensor> list;
  Params() {
    torch::manual_seed(3);
    // A weight, a bias, a transposed (non-contiguous: cast where used, keeping its strides)
    // weight and one the loss never uses.
    list = {at::randn({6, 4}), at::randn({6}), at::randn({6, 5}).t(), at::randn({3})};
    for (at::Tensor& p : list)
      p.requires_grad_(true);
  }
};

// y = x W0^T + b0, then y W2^T, summed with weights: every used parameter gets a gradient.
at::Tensor loss_of(const std::vector<at::Tensor>& w, const at::Tensor& x) {
  const at::Tensor y = at::linear(x, w[0], w[1]);  // [8, 6] bf16
  const at::Tensor z = at::linear(y, w[2]);        // [8, 5] bf16
  return (z.to(at::kFloat) * at::arange(40).view({8, 5})).sum();
}

TEST(ParamCast, SameValuesAndGradientsAsACastPerUse) {
  const at::Tensor x = at::randn({8, 4}).to(at::kBFloat16);
  Params a, b;
  std::vector<at::Tensor> per_use, cached;
  for (const at::Tensor& p : a.list)
    per_use.push_back(p.to(at::kBFloat16));
  loss_of(per_use, x).backward();
  {
    const ParamCastScope scope(b.list, at::kBFloat16);
    for (const at::Tensor& p : b.list)
      cached.push_back(cast_param(p, at::kBFloat16));
    loss_of(cached, x).backward();
  }
  for (size_t i = 0; i < a.list.size(); ++i) {
    EXPECT_TRUE(at::equal(per_use[i], cached[i])) << i;
    EXPECT_EQ(cached[i].sizes(), a.list[i].sizes()) << i;
  }
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.list[i].grad().defined()) << i;
    EXPECT_EQ(b.list[i].grad().scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(a.list[i].grad(), b.list[i].grad())) << i;
  }
  EXPECT_FALSE(b.list[3].grad().defined());  // never used: no gradient, not a tensor of zeros
}

TEST(ParamCast, OneCastInsteadOfOnePerParameter) {
  // 64 parameters: a cast each dispatches several operators; the scope a fixed few for all.
  std::vector<at::Tensor> params;
  for (int i = 0; i < 64; ++i)
    params.push_back(at::randn({16, 16}).requires_grad_(true));
  const int64_t per_param = ops_in([&] {
    for (const at::Tensor& p : params)
      (void)p.to(at::kBFloat16);
  });
  const int64_t once = ops_in([&] { const ParamCastScope scope(params, at::kBFloat16); });
  EXPECT_GE(per_param, 3 * 64);
  EXPECT_LT(once, 16) << "per parameter: " << per_param;
}

TEST(ParamCast, OutsideAScopeAndInFp32ItIsAPlainCast) {
  Params a;
  const at::Tensor& p = a.list[0];
  EXPECT_TRUE(cast_param(p, at::kFloat).is_same(p));
  const at::Tensor outside = cast_param(p, at::kBFloat16);
  EXPECT_EQ(outside.scalar_type(), at::kBFloat16);
  {
    const ParamCastScope fp32(a.list, at::kFloat);  // installs nothing
    EXPECT_TRUE(cast_param(p, at::kFloat).is_same(p));
  }
  at::Tensor inner_cast;
  {
    const ParamCastScope outer(a.list, at::kBFloat16);
    const at::Tensor outer_cast = cast_param(p, at::kBFloat16);
    const at::Tensor outer_bias = cast_param(a.list[1], at::kBFloat16);
    EXPECT_TRUE(cast_param(p, at::kBFloat16).is_same(outer_cast));  // cached, not cast again
    {
      const ParamCastScope inner({a.list[0]}, at::kBFloat16);
      inner_cast = cast_param(p, at::kBFloat16);
      EXPECT_FALSE(inner_cast.is_same(outer_cast));
      // Not in the inner scope: a plain cast, not the outer one's.
      EXPECT_FALSE(cast_param(a.list[1], at::kBFloat16).is_same(outer_bias));
    }
    EXPECT_TRUE(cast_param(p, at::kBFloat16).is_same(outer_cast));  // the outer one again
    EXPECT_TRUE(cast_param(a.list[1], at::kBFloat16).is_same(outer_bias));
    EXPECT_FALSE(cast_param(p, at::kHalf).is_same(outer_cast));  // another dtype: a cast
  }
  EXPECT_FALSE(cast_param(p, at::kBFloat16).is_same(inner_cast));
}

}  // namespace
}  // namespace electra::model
