// mlm_cross_entropy against ATen's cross_entropy_loss and argmax: the loss, its gradient, the
// count of correct rows (first-index ties included), on one thread and on two.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pretrain/mlm_loss.h"

namespace electra::pretrain {
namespace {

TEST(MlmLoss, MatchesAtenCrossEntropyAndArgmax) {
  torch::manual_seed(4);
  const int64_t m = 37, vocab = 1000;
  at::Tensor base = at::randn({m, vocab}) * 3;  // [m, vocab]
  at::Tensor labels = at::randint(0, vocab, {m}, at::kLong);
  // Ties: row 0's max twice (the first wins, as at::argmax), rows 1-4 right by construction.
  base[0][10] = 50.0;
  base[0][20] = 50.0;
  labels[0] = 10;
  for (int64_t r = 1; r < 5; ++r)
    base[r][labels[r].item<int64_t>()] = 40.0;

  const at::Tensor a = base.clone().requires_grad_(true), r = base.clone().requires_grad_(true);
  const MlmLoss ours = mlm_cross_entropy(a, labels);
  const at::Tensor ref = at::cross_entropy_loss(r, labels);
  EXPECT_NEAR(ours.loss.item<double>(), ref.item<double>(), 1e-5 * ref.item<double>());
  EXPECT_EQ(ours.correct.item<double>(), r.detach().argmax(-1).eq(labels).sum().item<double>());
  EXPECT_GE(ours.correct.item<double>(), 5.0);  // rows 0-4 at least
  (ours.loss * 3).backward();
  (ref * 3).backward();
  EXPECT_LT((a.grad() - r.grad()).abs().max().item<double>(), 1e-7);
  EXPECT_GT(a.grad().abs().sum().item<double>(), 1.0);
}

TEST(MlmLoss, Bf16LogitsGiveTheBitsOfTheirWidenedCopy) {
  // bf16 logits read as they are: the loss and count of their exact fp32 values, and the fp32
  // gradient rounded to bf16 once, which is what widening them first and letting autograd cast
  // the gradient back gives. An ignored row gets no gradient in either.
  torch::manual_seed(9);
  const int64_t m = 29, vocab = 3001;
  const at::Tensor base = (at::randn({m, vocab}) * 3).to(at::kBFloat16);
  at::Tensor labels = at::randint(0, vocab, {m}, at::kLong);
  labels[3] = kIgnoreLabel;
  const at::Tensor a = base.clone().requires_grad_(true), r = base.clone().requires_grad_(true);
  const MlmLoss ours = mlm_cross_entropy(a, labels);
  const MlmLoss widened = mlm_cross_entropy(r.to(at::kFloat), labels);
  ASSERT_EQ(ours.loss.scalar_type(), at::kFloat);
  EXPECT_EQ(ours.loss.item<float>(), widened.loss.item<float>());
  EXPECT_EQ(ours.correct.item<float>(), widened.correct.item<float>());
  (ours.loss * 5).backward();
  (widened.loss * 5).backward();
  ASSERT_EQ(a.grad().scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(a.grad(), r.grad()));
  EXPECT_EQ(a.grad()[3].abs().max().item<float>(), 0.0f);
  EXPECT_GT(a.grad().to(at::kFloat).abs().sum().item<double>(), 1.0);
  // And against ATen's fp32 cross-entropy on the widened values.
  EXPECT_NEAR(ours.loss.item<double>(),
              at::cross_entropy_loss(base.to(at::kFloat), labels).item<double>(), 1e-5);
}

TEST(MlmLoss, SameBitsOnOneThreadAndOnTwo) {
  torch::manual_seed(6);
  const at::Tensor base = at::randn({64, 3000}) * 4;
  const at::Tensor labels = at::randint(0, 3000, {64}, at::kLong);
  const int threads = at::get_num_threads();
  at::Tensor loss[2], grad[2];
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    const at::Tensor x = base.clone().requires_grad_(true);
    const MlmLoss out = mlm_cross_entropy(x, labels);
    out.loss.backward();
    loss[t - 1] = out.loss.detach();
    grad[t - 1] = x.grad();
  }
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(loss[0], loss[1]));
  EXPECT_TRUE(at::equal(grad[0], grad[1]));
}

TEST(MlmLoss, RejectsALabelOutsideTheVocabulary) {
  const at::Tensor logits = at::zeros({3, 10});
  for (int64_t bad : {10, -1}) {
    const at::Tensor labels = torch::tensor(std::vector<int64_t>{1, bad, 2});
    try {
      mlm_cross_entropy(logits, labels);
      ADD_FAILURE() << "label " << bad << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("outside the vocabulary [0, 10)"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace electra::pretrain
