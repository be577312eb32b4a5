// model/weight_cast.h: a weight's low-precision copy is made once per version, never stale.
#include "model/weight_cast.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

namespace electra::model {
namespace {

TEST(WeightCast, KeptWhileTheWeightIsUnchangedAndRemadeAfterAChange) {
  at::Tensor w = at::randn({8, 4}).requires_grad_(true);
  torch::NoGradGuard no_grad;
  const at::Tensor a = cast_weight(w, at::kBFloat16);
  const at::Tensor b = cast_weight(w, at::kBFloat16);
  EXPECT_EQ(a.data_ptr(), b.data_ptr());  // the same copy, not a new cast
  EXPECT_TRUE(at::equal(a, w.to(at::kBFloat16)));
  w.add_(1.0);  // an optimizer step: the version moves
  const at::Tensor c = cast_weight(w, at::kBFloat16);
  EXPECT_NE(c.data_ptr(), a.data_ptr());
  EXPECT_TRUE(at::equal(c, w.to(at::kBFloat16)));
  // Module::to() and load paths may swap the storage without a version change (set_data).
  w.set_data(at::randn({8, 4}));
  EXPECT_TRUE(at::equal(cast_weight(w, at::kBFloat16), w.to(at::kBFloat16)));
  // Another dtype is another copy; the weight's own dtype is the weight.
  EXPECT_EQ(cast_weight(w, at::kHalf).scalar_type(), at::kHalf);
  EXPECT_EQ(cast_weight(w, at::kFloat).data_ptr(), w.data_ptr());
}

TEST(WeightCast, NothingIsKeptWithAGradient) {
  at::Tensor w = at::randn({8, 4}).requires_grad_(true);
  const at::Tensor a = cast_weight(w, at::kBFloat16);
  const at::Tensor b = cast_weight(w, at::kBFloat16);
  EXPECT_NE(a.data_ptr(), b.data_ptr());
  EXPECT_TRUE(a.requires_grad());  // the cast stays in the graph
}

TEST(WeightCast, JoinedPartsAndFreedWeights) {
  torch::NoGradGuard no_grad;
  {
    at::Tensor q = at::randn({4, 4}), k = at::randn({4, 4}), v = at::randn({4, 4});
    const at::Tensor j = joined_weight({q, k, v}, at::kBFloat16);
    EXPECT_TRUE(at::equal(j, at::cat({q, k, v}, 0).to(at::kBFloat16)));
    EXPECT_EQ(joined_weight({q, k, v}, at::kBFloat16).data_ptr(), j.data_ptr());
    v.mul_(2.0);  // any part changing remakes the whole
    EXPECT_TRUE(at::equal(joined_weight({q, k, v}, at::kBFloat16),
                          at::cat({q, k, v}, 0).to(at::kBFloat16)));
  }
  // The parts are gone, as are the weights of every earlier test: the next miss drops their
  // copies, and only the new one is left.
  at::Tensor other = at::randn({2, 2});
  cast_weight(other, at::kBFloat16);
  EXPECT_EQ(cached_weight_casts(), 1u);
}

TEST(WeightCast, DerivedCopiesAreMadeOncePerVersionAndTag) {
  torch::NoGradGuard no_grad;
  at::Tensor w = at::randn({4, 4});
  int made = 0;
  // make() may itself take a cached copy (the cache is not locked while it runs).
  const auto doubled = [&] {
    ++made;
    return cast_weight(w, at::kBFloat16) * 2;
  };
  const at::Tensor a = derived_weight(w, "doubled", doubled);
  EXPECT_EQ(derived_weight(w, "doubled", doubled).data_ptr(), a.data_ptr());
  EXPECT_EQ(made, 1);
  EXPECT_TRUE(at::equal(a, w.to(at::kBFloat16) * 2));
  // Another tag is another copy; a change of the weight remakes it.
  derived_weight(w, "other", doubled);
  EXPECT_EQ(made, 2);
  w.add_(1.0);
  EXPECT_TRUE(at::equal(derived_weight(w, "doubled", doubled), w.to(at::kBFloat16) * 2));
  EXPECT_EQ(made, 3);
  // With a gradient nothing is kept.
  torch::AutoGradMode grad(true);
  derived_weight(w, "doubled", doubled);
  derived_weight(w, "doubled", doubled);
  EXPECT_EQ(made, 5);
}

// Inference mode (`electra bench --inference`, the tools): what is derived from a kept copy is
// kept too. The joined Q/K/V matrix was an inference tensor there, without a version counter,
// so oneDNN's packed layout of it was remade on every call.
TEST(WeightCast, CopiesMadeInInferenceModeCanBeDerivedFrom) {
  at::Tensor q = at::randn({4, 4}).requires_grad_(true), k = at::randn({4, 4}).requires_grad_(true);
  const c10::InferenceMode inference;
  const at::Tensor j = joined_weight({q, k}, at::kBFloat16);  // [8, 4]
  EXPECT_FALSE(j.is_inference());
  EXPECT_FALSE(j.requires_grad());
  int made = 0;
  const auto packed = [&] {
    ++made;
    return j.t().contiguous();
  };
  const at::Tensor a = derived_weight(j, "packed", packed);
  EXPECT_EQ(derived_weight(j, "packed", packed).data_ptr(), a.data_ptr());
  EXPECT_EQ(made, 1);
  EXPECT_EQ(joined_weight({q, k}, at::kBFloat16).data_ptr(), j.data_ptr());
  EXPECT_TRUE(at::equal(a, at::cat({q, k}, 0).to(at::kBFloat16).t()));
}

}  // namespace
}  // namespace electra::model
