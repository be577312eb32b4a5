// The generator's masked-LM loss on CUDA (model/cuda/mlm_loss_kernels.h behind
// pretrain::cuda_mlm_cross_entropy) against ATen's cross-entropy on the logits widened to fp32:
// the loss, the count of rows whose first argmax is the label, the gradient, ignored rows, rows
// read in place from a padded head, and no wait for the device. Skipped without a CUDA device or
// the kernels.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>

#include "pretrain/mlm_loss.h"
#include "tests/support/cuda_kernels.h"

#if defined(ELECTRA_WITH_CUDA)
#include "tests/support/sync_debug.h"
#endif

namespace electra::pretrain {
namespace {

const at::Device kCuda(at::kCUDA, 0);

struct Case {
  at::Tensor logits;  // [m, vocab] on CUDA in dt, possibly a view of wider rows
  at::Tensor labels;  // [m] int64 on CUDA, some kIgnoreLabel
};

// 37 rows over `vocab` tokens, `width` >= vocab elements apart; rows 3 and 4 have two equal
// largest logits (row 3 labelled with the first, row 4 with the second); rows 5 and 20 ignored.
Case make_case(at::ScalarType dt, int64_t vocab, int64_t width) {
  torch::manual_seed(static_cast<uint64_t>(vocab + width));
  const int64_t m = 37;
  at::Tensor wide = (at::randn({m, width}) * 4).to(dt);  // [m, width]
  wide[3][10] = 40.0;
  wide[3][vocab - 2] = 40.0;
  wide[4][11] = 40.0;
  wide[4][vocab - 1] = 40.0;
  at::Tensor labels = at::randint(0, vocab, {m}, at::kLong);
  labels[3] = 10;
  labels[4] = vocab - 1;
  labels[5] = kIgnoreLabel;
  labels[20] = kIgnoreLabel;
  return {wide.to(kCuda).narrow(1, 0, vocab), labels.to(kCuda)};
}

TEST(CudaMlmLoss, MatchesAtensCrossEntropyOnTheWidenedLogits) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  for (const auto dt : {at::kBFloat16, at::kHalf, at::kFloat}) {
    // Aligned rows; rows with a tail past the last 4-element vector; rows of a padded view.
    for (const auto& [vocab, width] :
         {std::pair<int64_t, int64_t>{1000, 1000}, {1001, 1001}, {1001, 1008}}) {
      SCOPED_TRACE(std::string(c10::toString(dt)) + ", vocab " + std::to_string(vocab) +
                   " in rows of " + std::to_string(width));
      const Case c = make_case(dt, vocab, width);
      ASSERT_TRUE(cuda_mlm_loss_supports(c.logits, c.labels));
      // ATen's: the cross-entropy of the fp32 copy, mean over the labelled rows.
      const at::Tensor ref_x = c.logits.detach().to(at::kFloat).requires_grad_(true);
      const at::Tensor ref_loss = at::cross_entropy_loss(ref_x, c.labels);
      (ref_loss * 1.7).backward();
      const at::Tensor ref_correct = ref_x.detach().argmax(-1).eq(c.labels).sum();
      // Ours, on the logits as they are.
      const at::Tensor x = c.logits.detach().requires_grad_(true);
      const MlmLoss ours = cuda_mlm_cross_entropy(x, c.labels);
      (ours.loss * 1.7).backward();

      const double expected = ref_loss.item<double>();
      EXPECT_NEAR(ours.loss.item<double>(), expected, 1e-5 * expected);
      EXPECT_EQ(ours.correct.item<double>(), ref_correct.item<double>());
      ASSERT_TRUE(x.grad().defined());
      EXPECT_EQ(x.grad().scalar_type(), dt);
      // The fp32 gradient rounded to dt once: within one rounding of ATen's, rounded the same.
      const at::Tensor ref_grad = ref_x.grad().to(dt).to(at::kFloat);
      const double scale = ref_x.grad().abs().max().item<double>();
      EXPECT_LE((x.grad().to(at::kFloat) - ref_grad).abs().max().item<double>(),
                testing::unit(dt) * scale);
      // Ignored rows get nothing; a labelled row's gradient sums to ~0 (softmax - one-hot).
      EXPECT_EQ(x.grad()[5].abs().max().item<double>(), 0.0);
      EXPECT_EQ(x.grad()[20].abs().max().item<double>(), 0.0);
      EXPECT_NEAR(x.grad()[0].to(at::kFloat).sum().item<double>(), 0.0,
                  4 * testing::unit(dt) * scale);
    }
  }
}

// The ties: row 3's label is its first largest index (counted correct), row 4's its second
// (not); ATen's argmax gives the first.
TEST(CudaMlmLoss, TheFirstLargestIndexIsTheArgmax) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
  const Case c = make_case(at::kBFloat16, 1001, 1008);
  at::Tensor labels = at::full({37}, kIgnoreLabel, at::kLong);
  labels[3] = 10;
  labels[4] = 1000;
  const MlmLoss one = cuda_mlm_cross_entropy(c.logits, labels.to(kCuda));
  EXPECT_EQ(one.correct.item<double>(), 1.0);
  labels[4] = 11;
  EXPECT_EQ(cuda_mlm_cross_entropy(c.logits, labels.to(kCuda)).correct.item<double>(), 2.0);
}

// The forward and backward passes queue their work without a host read: the count of labelled
// rows stays on the device (a CUDA graph replays it with each batch's fillers).
TEST(CudaMlmLoss, NeverWaitsForTheDevice) {
  ELECTRA_SKIP_WITHOUT_CUDA_KERNELS();
#if defined(ELECTRA_WITH_CUDA)
  const Case c = make_case(at::kBFloat16, 1001, 1008);
  const at::Tensor x = c.logits.detach().requires_grad_(true);
  at::Tensor loss;
  const std::string error = testing::sync_error_of([&] {
    loss = cuda_mlm_cross_entropy(x, c.labels).loss;
    loss.backward();
  });
  EXPECT_EQ(error, "");
  if (error.empty()) EXPECT_TRUE(std::isfinite(loss.item<double>()));
#endif
}

}  // namespace
}  // namespace electra::pretrain
