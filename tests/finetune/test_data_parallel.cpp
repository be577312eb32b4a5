// Data parallelism: the sharding functions, the gradient arithmetic (per-rank summed losses
// divided by the global batch = the full-batch mean), and a whole fine-tune with 2 ranks (threads
// with a fake communicator) that must end with the weights of the 1-rank run.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <thread>

#include "common/config.h"
#include "finetune/finetune_config.h"
#include "finetune/model_dir.h"
#include "finetune/sharding.h"
#include "finetune/trainer.h"
#include "synthetic.h"
#include "threaded_communicator.h"

namespace electra::finetune {
namespace {

TEST(Sharding, EpochOrderIsASeededPermutationPerEpoch) {
  const auto a = epoch_order(50, 7, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i)
    EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(a, epoch_order(50, 7, 0));  // same on every rank
  EXPECT_NE(a, epoch_order(50, 7, 1));  // a new order each epoch
  EXPECT_NE(a, epoch_order(50, 8, 0));
}

TEST(Sharding, RankSharesPartitionEachGlobalBatch) {
  const int64_t n = 10, batch = 4;
  const int world = 3;
  const auto order = epoch_order(n, 1, 0);
  ASSERT_EQ(batches_per_epoch(n, batch), 3);
  std::multiset<int64_t> seen;
  for (int64_t b = 0; b < 3; ++b) {
    std::vector<int64_t> together;
    for (int r = 0; r < world; ++r) {
      const auto s = rank_share(order, batch, b, r, world);
      together.insert(together.end(), s.begin(), s.end());
    }
    EXPECT_EQ(static_cast<int64_t>(together.size()), global_batch_size(n, batch, b));
    std::vector<int64_t> expect(order.begin() + b * batch,
                                order.begin() + std::min(n, (b + 1) * batch));
    std::sort(together.begin(), together.end());
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(together, expect) << "batch " << b;
    seen.insert(together.begin(), together.end());
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 10u);  // disjoint
  // The last batch holds 2 examples: rank 2 has none.
  EXPECT_EQ(global_batch_size(n, batch, 2), 2);
  EXPECT_TRUE(rank_share(order, batch, 2, 2, world).empty());
}

TEST(Sharding, EvalSharesGatherBackInFileOrder) {
  const int64_t n = 7;
  const int world = 3;
  std::vector<std::string> parts;
  for (int r = 0; r < world; ++r) {
    std::vector<float> v;
    for (int64_t i : eval_share(n, r, world))
      v.push_back(static_cast<float>(i) * 1.5f);
    parts.push_back(pack_values(v));
  }
  const auto all = merge_eval_shares(parts, n);
  ASSERT_EQ(all.size(), 7u);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_FLOAT_EQ(all[i], i * 1.5f);
  EXPECT_EQ(unpack_values(pack_values({}), "t").size(), 0u);
  // More ranks than examples: some shares are empty.
  std::vector<std::string> sparse;
  for (int r = 0; r < 4; ++r) {
    std::vector<float> v;
    for (int64_t i : eval_share(2, r, 4))
      v.push_back(static_cast<float>(i));
    sparse.push_back(pack_values(v));
  }
  EXPECT_EQ(merge_eval_shares(sparse, 2), (std::vector<float>{0, 1}));
}

TEST(DataParallel, SummedShareLossesGiveTheFullBatchGradient) {
  const model::ElectraConfig c = testing::tiny_electra(36, 1);
  torch::manual_seed(3);
  model::ElectraForSequenceClassification net(c);
  model::init_weights(*net, c);
  testing::WordTokenizer tok(30);
  std::vector<TextExample> ex;
  for (const auto& [s, label] : testing::marker_rows(6, 9))
    ex.push_back({"", s, "", label, 0, 0});
  const auto feats = encode_examples(ex, tok, 16);
  auto grads = [&](const std::vector<std::vector<int64_t>>& shares, int64_t global) {
    for (auto& p : net->parameters())
      p.mutable_grad() = at::Tensor();
    for (const auto& s : shares)
      (summed_loss(net, collate(feats, s, 0), false, at::kFloat) / static_cast<double>(global))
          .backward();
    std::vector<at::Tensor> g;
    for (auto& p : net->parameters())
      g.push_back(p.grad().clone());
    return g;
  };
  const auto full = grads({{0, 1, 2, 3, 4, 5}}, 6);
  const auto split3 = grads({{0, 3}, {1, 4}, {2, 5}}, 6);  // what 3 ranks sum by all-reduce
  ASSERT_EQ(full.size(), split3.size());
  for (size_t i = 0; i < full.size(); ++i)
    EXPECT_TRUE(at::allclose(full[i], split3[i], 1e-5, 1e-6)) << i;
}

TEST(DataParallel, TwoRanksTrainTheSameModelAsOne) {
  testing::MarkerTask data(96, 40, "dp");
  auto tok = std::make_shared<testing::WordTokenizer>(30);
  auto run = [&](int world, const std::string& out) {
    const Config cfg = Config::resolve(
        finetune_schema(), "",
        {"task.name=sst-2", "data.dir=" + data.root(), "data.max_seq_len=16",
         "model.embedding_size=16", "model.hidden_size=16", "model.num_hidden_layers=1",
         "model.num_attention_heads=2", "model.intermediate_size=32",
         "model.max_position_embeddings=32", "model.hidden_dropout_prob=0",
         "model.attention_probs_dropout_prob=0", "train.batch_size=10", "train.epochs=2",
         "train.threads=1", "optimizer.lr=1e-3", "output.dir=" + data.out(out)});
    const FinetuneConfig fc = read_finetune_config(cfg);
    testing::Hub hub(world);
    std::vector<FinetuneResult> results(world);
    std::vector<std::thread> threads;
    for (int r = 0; r < world; ++r)
      threads.emplace_back([&, r] {
        testing::ThreadedCommunicator comm(hub, r);
        results[r] = finetune(fc, cfg.to_yaml(), tok, comm);
      });
    for (auto& t : threads)
      t.join();
    return std::make_pair(results, hub.collectives);
  };
  const auto [one, c1] = run(1, "w1");
  const auto [two, c2] = run(2, "w2");
  // 96 examples in batches of 10: 10 steps per epoch, the last batch of 6; evaluation after each
  // epoch (one gather each), test predictions once.
  EXPECT_EQ(one[0].steps, 20);
  EXPECT_EQ(two[0].steps, 20);
  EXPECT_EQ(c2, 3);
  // Both ranks report the same (gathered) metrics, equal to the single-rank run's.
  EXPECT_EQ(two[0].json_lines, two[1].json_lines);
  EXPECT_NEAR(two[0].primary, one[0].primary, 1e-9);
  // The same weights (up to float summation order); dropout is off so the math is identical.
  const auto a = read_finetuned_model(data.out("w1/best_model"));
  const auto b = read_finetuned_model(data.out("w2/best_model"));
  auto pa = a.net->named_parameters(), pb = b.net->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(at::allclose(pa[i].value(), pb[i].value(), 1e-4, 1e-5)) << pa[i].key();
}

}  // namespace
}  // namespace electra::finetune
