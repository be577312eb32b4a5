// model/param_cast.h on the CPU (one copy per tensor; the CUDA kernel is tests/gpu's): the
// scope's casts are the casts, handed out once, and their gradients are the gradients a cast
// per use gives, bit for bit, including a parameter used twice and gradients with zero strides.
#include "model/param_cast.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace electra::model {
namespace {

struct Params {
  at::Tensor w, b, twice, unused, summed;
  std::vector<at::Tensor> all() const { return {w, b, twice, unused, summed}; }
};

Params make_params() {
  torch::manual_seed(7);
  // 35 and 5 elements: offsets in the joined buffer are rounded up to 8.
  return {at::randn({5, 7}).requires_grad_(true), at::randn({5}).requires_grad_(true),
          at::randn({6}).requires_grad_(true), at::randn({3, 3}).requires_grad_(true),
          at::randn({4}).requires_grad_(true)};
}

// A loss over casts to dt (element-wise: the CPU has no fp16 matmul): w and b on x, `twice` used
// twice, `summed` only summed (its cast's gradient is an expanded scalar), `unused` never asked
// for.
at::Tensor loss_of(const Params& p, const at::Tensor& x, at::ScalarType dt) {
  const at::Tensor y = x.to(dt) * cast_param(p.w, dt) + cast_param(p.b, dt).unsqueeze(1);  // [5, 7]
  const at::Tensor t = cast_param(p.twice, dt) * cast_param(p.twice, dt);                  // [6]
  return (y.to(at::kFloat) * y.to(at::kFloat)).sum() + t.to(at::kFloat).sum() * 0.5 +
         cast_param(p.summed, dt).to(at::kFloat).sum() * 3.0;
}

TEST(ParamCast, CastsAreTheCastsAndGradientsThoseOfACastPerUse) {
  const at::Tensor x = at::randn({5, 7});
  for (const auto dt : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(c10::toString(dt));
    Params ref = make_params(), got = make_params();
    loss_of(ref, x, dt).backward();
    {
      const ParamCastScope scope(got.all(), dt);
      loss_of(got, x, dt).backward();
    }
    for (const auto& [r, g] : {std::pair{ref.w, got.w},
                               {ref.b, got.b},
                               {ref.twice, got.twice},
                               {ref.summed, got.summed}}) {
      ASSERT_TRUE(g.grad().defined());
      EXPECT_EQ(g.grad().scalar_type(), at::kFloat);
      EXPECT_TRUE(at::equal(g.grad(), r.grad()));
    }
    EXPECT_FALSE(got.unused.grad().defined());
  }
}

// Gradient accumulation: a scope per micro-step; the first step's gradients become the
// parameters' .grad (aliases of that step's buffer), the second's are added into them in place.
TEST(ParamCast, GradientsAccumulateOverScopesAsOverCastsPerUse) {
  const at::Tensor x1 = at::randn({5, 7}), x2 = at::randn({5, 7});
  Params ref = make_params(), got = make_params();
  for (const at::Tensor& x : {x1, x2}) {
    loss_of(ref, x, at::kBFloat16).backward();
    const ParamCastScope scope(got.all(), at::kBFloat16);
    loss_of(got, x, at::kBFloat16).backward();
  }
  for (const auto& [r, g] : {std::pair{ref.w, got.w},
                             {ref.b, got.b},
                             {ref.twice, got.twice},
                             {ref.summed, got.summed}}) {
    ASSERT_TRUE(g.grad().defined());
    EXPECT_TRUE(at::equal(g.grad(), r.grad()));
  }
  EXPECT_FALSE(got.unused.grad().defined());
}

TEST(ParamCast, ACastIsHandedOutOnceAndEqualsTo) {
  const Params p = make_params();
  const ParamCastScope scope(p.all(), at::kBFloat16);
  const at::Tensor c = scoped_cast(p.w, at::kBFloat16);
  ASSERT_TRUE(c.defined());
  EXPECT_EQ(c.sizes(), p.w.sizes());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(at::equal(c, p.w.detach().to(at::kBFloat16)));
  EXPECT_FALSE(scoped_cast(p.w, at::kBFloat16).defined());             // asked before
  EXPECT_FALSE(scoped_cast(p.b, at::kHalf).defined());                 // another dtype
  EXPECT_FALSE(scoped_cast(at::randn({5}), at::kBFloat16).defined());  // not in the scope
  EXPECT_FALSE(scoped_cast(at::Tensor(), at::kBFloat16).defined());
  // cast_param casts by itself once the scope's cast is taken.
  const at::Tensor again = cast_param(p.w, at::kBFloat16);
  EXPECT_TRUE(at::equal(again, c));
  EXPECT_NE(again.data_ptr(), c.data_ptr());
}

// memory() holds the casts' buffer after the scope and every cast are gone (a side stream that
// still reads the casts needs that, pretrain/step.cpp).
TEST(ParamCast, MemoryOutlivesTheScopeAndItsCasts) {
  const Params p = make_params();
  at::Tensor memory;
  const void* first = nullptr;
  {
    const ParamCastScope scope(p.all(), at::kBFloat16);
    memory = scope.memory();
    at::Tensor w = scoped_cast(p.w, at::kBFloat16);
    first = w.data_ptr();
  }
  ASSERT_TRUE(memory.defined());
  EXPECT_EQ(memory.data_ptr(), first);  // the buffer's start: the first parameter's cast
  EXPECT_EQ(memory.scalar_type(), at::kBFloat16);
  EXPECT_FALSE(memory.requires_grad());
  EXPECT_TRUE(at::equal(memory, p.w.detach().to(at::kBFloat16)));
  EXPECT_FALSE(ParamCastScope(p.all(), at::kFloat).memory().defined());
}

TEST(ParamCast, NoScopeFp32ScopesAndNesting) {
  const Params p = make_params();
  EXPECT_FALSE(scoped_cast(p.w, at::kBFloat16).defined());
  {
    const ParamCastScope fp32(p.all(), at::kFloat);  // installs nothing
    EXPECT_FALSE(scoped_cast(p.w, at::kFloat).defined());
  }
  // A strided parameter is left to cast by itself.
  const at::Tensor strided = at::randn({4, 6}).t().requires_grad_(true);
  const ParamCastScope outer({p.w, strided}, at::kBFloat16);
  EXPECT_FALSE(scoped_cast(strided, at::kBFloat16).defined());
  {
    const ParamCastScope inner({p.b}, at::kBFloat16);
    EXPECT_FALSE(scoped_cast(p.w, at::kBFloat16).defined());  // hidden by the inner scope
    EXPECT_TRUE(scoped_cast(p.b, at::kBFloat16).defined());
  }
  EXPECT_TRUE(scoped_cast(p.w, at::kBFloat16).defined());  // the outer one again
}

}  // namespace
}  // namespace electra::model
