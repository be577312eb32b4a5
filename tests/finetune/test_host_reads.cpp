// Fine-tuning reads nothing back from the model's device per batch: on a GPU every read (a
// look at a batch's mask, a batch's predictions copied back) waits for the queue to drain. On
// the CPU the same reads dispatch aten::_local_scalar_dense, which these tests count.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "distributed/communicator.h"
#include "finetune/evaluate.h"
#include "finetune/features.h"
#include "finetune/trainer.h"
#include "model/electra.h"
#include "pretrain/profile.h"
#include "synthetic.h"

namespace electra::finetune {
namespace {

model::ElectraForSequenceClassification tiny_classifier() {
  model::ElectraConfig c = testing::tiny_electra(40, 2);
  c.num_labels = 3;
  torch::manual_seed(5);
  model::ElectraForSequenceClassification net(c);
  model::init_weights(*net, c);
  net->eval();
  return net;
}

// Example i: [CLS] (3 + i % 4 words) [SEP], so batches of mixed lengths are padded.
std::vector<Feature> features(int n) {
  std::vector<Feature> f;
  for (int i = 0; i < n; ++i) {
    Feature x;
    x.ids.push_back(2);
    for (int w = 0; w < 3 + i % 4; ++w)
      x.ids.push_back(6 + (i * 7 + w * 3) % 30);
    x.ids.push_back(3);
    x.types.assign(x.ids.size(), 0);
    x.label = i % 3;
    f.push_back(x);
  }
  return f;
}

int64_t host_reads(const std::function<void()>& fn) {
  return pretrain::count_aten_ops(fn, "aten::_local_scalar_dense");
}

TEST(FinetuneHostReads, ClassifyAppliesTheMaskWithoutReadingIt) {
  torch::NoGradGuard no_grad;
  auto net = tiny_classifier();
  const std::vector<Feature> f = features(4);
  const FeatureBatch mixed = collate(f, {0, 1, 2, 3}, 0), same = collate(f, {1, 1}, 0);
  EXPECT_TRUE(mixed.padded);
  EXPECT_FALSE(same.padded);
  at::Tensor out_mixed, out_same;
  EXPECT_EQ(host_reads([&] { out_mixed = classify(net, mixed, at::kFloat); }), 0);
  EXPECT_EQ(host_reads([&] { out_same = classify(net, same, at::kFloat); }), 0);
  ASSERT_EQ(out_mixed.sizes(), (at::IntArrayRef{4, 3}));
  // The padding was masked: each row is what its example gives alone, unpadded.
  for (int64_t i = 0; i < 4; ++i) {
    const FeatureBatch alone = collate(f, {i}, 0);
    ASSERT_FALSE(alone.padded);
    EXPECT_TRUE(at::allclose(out_mixed[i], classify(net, alone, at::kFloat)[0], 1e-5, 1e-6))
        << "example " << i;
  }
  EXPECT_TRUE(at::allclose(out_same[0], out_same[1]));
}

TEST(FinetuneHostReads, PredictReadsNothingBackPerBatch) {
  auto net = tiny_classifier();
  const std::vector<Feature> f = features(11);
  auto comm = dist::make_single_process_communicator();
  Predictions p;
  // 4 batches of up to 3, most of them padded.
  EXPECT_EQ(host_reads([&] { p = predict(net, f, false, 3, at::kFloat, 0, *comm); }), 0);
  ASSERT_EQ(p.classes.size(), f.size());
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < static_cast<int64_t>(f.size()); ++i)
    EXPECT_EQ(p.classes[i], classify(net, collate(f, {i}, 0), at::kFloat).argmax(1).item<int64_t>())
        << "example " << i;
}

TEST(FinetuneHostReads, TheTrainingLossReadsNothingBack) {
  auto net = tiny_classifier();
  net->train();
  const FeatureBatch b = collate(features(5), {0, 1, 2, 3, 4}, 0);
  ASSERT_TRUE(b.padded);
  at::Tensor loss;
  EXPECT_EQ(host_reads([&] { loss = summed_loss(net, b, false, at::kFloat); }), 0);
  EXPECT_GT(loss.item<double>(), 0.0);
}

}  // namespace
}  // namespace electra::finetune
