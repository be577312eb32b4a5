#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "model/electra.h"
#include "pretrain/mlm_loss.h"
#include "pretrain/optimizer.h"
#include "pretrain/profile.h"
#include "pretrain/rtd.h"
#include "pretrain/step.h"

namespace electra::pretrain {
namespace {

TEST(Rtd, ReplacedLabelsOnlyWhereMaskedAndDifferent) {
  at::Tensor ids = at::tensor({2, 10, 11, 12, 3, 2, 20, 21, 3, 0}, at::kLong).view({2, 5});
  at::Tensor index = at::tensor({1, 2, 3, 6}, at::kLong);  // flat positions
  at::Tensor labels = at::tensor({10, 11, 12, 20}, at::kLong);
  at::Tensor sampled = at::tensor({10, 99, 12, 98}, at::kLong);  // 2 of 4 differ
  auto [fake, replaced] = replace_tokens(ids, index, labels, sampled);
  EXPECT_TRUE(
      at::equal(fake, at::tensor({2, 10, 99, 12, 3, 2, 98, 21, 3, 0}, at::kLong).view({2, 5})));
  EXPECT_TRUE(
      at::equal(replaced, at::tensor({0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, at::kFloat).view({2, 5})));
}

TEST(Rtd, GumbelSamplingFollowsSoftmaxOfLogitsOverTemperature) {
  at::Generator gen = at::detail::createCPUGenerator(123);
  at::Tensor logits =
      at::log(at::tensor({0.1f, 0.2f, 0.7f})).view({1, 3}).expand({20000, 3}).contiguous();
  for (double t : {1.0, 2.0}) {
    at::Tensor s = gumbel_sample(logits, t, gen);
    at::Tensor p = at::softmax(at::log(at::tensor({0.1, 0.2, 0.7})) / t, 0);
    for (int k = 0; k < 3; ++k) {
      const double freq = s.eq(k).sum().item<double>() / 20000.0;
      // 4 standard errors of a binomial proportion.
      const double se = std::sqrt(p[k].item<double>() * (1 - p[k].item<double>()) / 20000.0);
      EXPECT_NEAR(freq, p[k].item<double>(), 4 * se) << "T=" << t << " k=" << k;
    }
  }
  // A tiny temperature is the argmax; a bad one is refused.
  EXPECT_TRUE(gumbel_sample(logits, 1e-4, gen).eq(2).all().item<bool>());
  EXPECT_ANY_THROW(gumbel_sample(logits, 0.0, gen));
  // Same seed, same samples.
  at::Generator g1 = at::detail::createCPUGenerator(5), g2 = at::detail::createCPUGenerator(5);
  EXPECT_TRUE(at::equal(gumbel_sample(logits, 1.0, g1), gumbel_sample(logits, 1.0, g2)));
}

model::ElectraConfig tiny() {
  model::ElectraConfig c;
  c.vocab_size = 30;
  c.embedding_size = 16;
  c.hidden_size = 16;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 16;
  c.hidden_dropout_prob = 0;
  c.attention_probs_dropout_prob = 0;
  return c;
}

// Two sequences of 6 (the second with 2 [PAD]s: 10 real tokens), 3 positions masked.
data::Batch two_sequences() {
  data::Batch b;
  b.input_ids = at::tensor({2, 7, 8, 9, 10, 3, 2, 11, 12, 3, 0, 0}, at::kLong).view({2, 6});
  b.attention_mask = b.input_ids.ne(0).to(at::kLong);
  b.token_type_ids = at::zeros({2, 6}, at::kLong);
  b.masked_index = at::tensor({2, 4, 7}, at::kLong);
  b.masked_labels = at::tensor({8, 10, 11}, at::kLong);
  b.masked_ids = b.input_ids.clone();
  b.masked_ids.view({-1}).index_put_({b.masked_index}, at::full({3}, 4, at::kLong));
  b.real_tokens = 10;
  return b;
}

TEST(Rtd, LossesMatchAnIndependentRecomputation) {
  torch::manual_seed(4);
  model::ElectraConfig d = tiny();
  model::PretrainingPair pair = model::make_pretraining_pair(d, model::generator_config(d, 0.5));
  const data::Batch b = two_sequences();
  at::Generator g1 = at::detail::createCPUGenerator(9), g2 = at::detail::createCPUGenerator(9);
  RtdOutput out = rtd_forward(pair, b, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, g1);

  // Recompute by hand: the generator at the masked positions, log-softmax cross-entropy.
  at::Tensor gh =
      pair.generator->electra(b.masked_ids, b.attention_mask, b.token_type_ids, at::kFloat);
  at::Tensor logits =
      pair.generator->lm_logits(gh.view({12, -1}).index_select(0, b.masked_index), at::kFloat);
  at::Tensor logp = logits - logits.exp().sum(-1, true).log();
  const double gen_loss = -(logp.gather(1, b.masked_labels.view({3, 1}))).mean().item<double>();
  EXPECT_NEAR(out.gen_loss.item<double>(), gen_loss, 1e-5);
  // Same sampling stream, then a sigmoid BCE averaged over the 10 real tokens only.
  at::Tensor sampled = gumbel_sample(logits, 1.0, g2);
  auto [fake, y] = replace_tokens(b.input_ids, b.masked_index, b.masked_labels, sampled);
  at::Tensor z = pair.discriminator(fake, b.attention_mask, b.token_type_ids, at::kFloat);
  at::Tensor p = at::sigmoid(z);
  at::Tensor bce = -(y * at::log(p) + (1 - y) * at::log(1 - p));
  const double disc_loss = (bce * b.attention_mask).sum().item<double>() / 10.0;
  EXPECT_NEAR(out.disc_loss.item<double>(), disc_loss, 1e-5);
  EXPECT_NEAR(out.loss.item<double>(), gen_loss + 50.0 * disc_loss, 1e-4);
  EXPECT_EQ(out.real_tokens.item<double>(), 10.0);
  EXPECT_EQ(out.masked.item<double>(), 3.0);
  EXPECT_EQ(out.disc_flagged.item<double>(),
            (z.gt(0) * b.attention_mask).sum().item<double>());  // padding never counts
  {
    // A discriminator forced to say "replaced" everywhere flags every real token, and no pad.
    torch::NoGradGuard no_grad;
    pair.discriminator->discriminator_predictions->dense_prediction->bias.fill_(100.0);
    at::Generator g3 = at::detail::createCPUGenerator(9);
    EXPECT_EQ(rtd_forward(pair, b, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, g3)
                  .disc_flagged.item<double>(),
              10.0);
    pair.discriminator->discriminator_predictions->dense_prediction->bias.zero_();
  }
  // Gradients flow into both models, and into the shared embeddings from both losses.
  out.loss.backward();
  EXPECT_TRUE(pair.generator->generator_lm_head->bias.grad().defined());
  EXPECT_TRUE(
      pair.discriminator->discriminator_predictions->dense_prediction->weight.grad().defined());
  EXPECT_GT(pair.discriminator->electra->embeddings->word_embeddings->weight.grad()
                .abs()
                .sum()
                .item<double>(),
            0);
}

// The fixed-shape form of a batch (pretrain/graphed_step.h: the mask applied without looking,
// masked positions padded with fillers) gives the eager step's losses, counts and gradients. On
// the CPU the Gumbel noise of a row depends only on the seed and the row, so even the samples
// agree; dropout is on, from the same generator state.
TEST(Rtd, FillerTargetsAndAFixedMaskChangeNothing) {
  torch::manual_seed(4);
  model::ElectraConfig d = tiny();
  d.hidden_dropout_prob = 0.1;
  model::PretrainingPair pair = model::make_pretraining_pair(d, model::generator_config(d, 0.5));
  const data::Batch b = two_sequences();
  data::Batch f = b;
  f.masked_index = at::tensor({2, 4, 7, 0, 0}, at::kLong);
  f.masked_labels = at::tensor(std::vector<int64_t>{8, 10, 11, kIgnoreLabel, kIgnoreLabel});
  f.filler_targets = f.fixed_mask = true;

  const auto run = [&](const data::Batch& batch) {
    torch::manual_seed(11);  // the dropout masks
    at::Generator gumbel = at::detail::createCPUGenerator(9);
    RtdOutput out = rtd_forward(pair, batch, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, gumbel);
    out.loss.backward();
    std::vector<at::Tensor> grads;
    for (const auto& [name, p] : model::unique_parameters(pair)) {
      grads.push_back(p.grad().clone());
      p.mutable_grad() = at::Tensor();
    }
    return std::make_pair(out, grads);
  };
  const auto [plain, plain_grads] = run(b);
  const auto [filled, filled_grads] = run(f);
  for (const auto& [name, a, c] :
       {std::tuple<const char*, at::Tensor, at::Tensor>{"loss", plain.loss, filled.loss},
        {"gen_loss", plain.gen_loss, filled.gen_loss},
        {"disc_loss", plain.disc_loss, filled.disc_loss}})
    EXPECT_NEAR(c.item<double>(), a.item<double>(), 1e-6 * std::abs(a.item<double>())) << name;
  EXPECT_EQ(filled.masked.item<double>(), 3.0);
  EXPECT_EQ(filled.replaced.item<double>(), plain.replaced.item<double>());
  EXPECT_EQ(filled.gen_correct.item<double>(), plain.gen_correct.item<double>());
  EXPECT_EQ(filled.disc_correct.item<double>(), plain.disc_correct.item<double>());
  ASSERT_EQ(plain_grads.size(), filled_grads.size());
  for (size_t i = 0; i < plain_grads.size(); ++i)
    EXPECT_LT((filled_grads[i] - plain_grads[i]).abs().max().item<double>(),
              1e-6 * std::max(1.0, plain_grads[i].abs().max().item<double>()))
        << i;
  // A filler's sample writes back the token at its index, and it is never labelled replaced:
  // with every sample forced to differ, only the 3 real targets count.
  at::Tensor sampled = at::tensor({1, 1, 1, 2, 2}, at::kLong);
  auto [fake, y] = replace_tokens(f.input_ids, f.masked_index, f.masked_labels,
                                  at::where(f.masked_labels.ge(0), sampled, at::full({5}, 2L)),
                                  f.masked_labels.ge(0));
  EXPECT_EQ(y.sum().item<double>(), 3.0);
  EXPECT_EQ(fake.view({-1})[0].item<int64_t>(), 2);
}

// A padded batch says so on the host (real_tokens), so neither encoder looks at the mask to find
// out: with train.wait_each_step false on a GPU such a look would be two waits for the device a
// step. An unpadded batch passes no mask at all.
TEST(Rtd, APaddedBatchIsNeverReadOnTheHost) {
  torch::manual_seed(4);
  model::ElectraConfig d = tiny();
  model::PretrainingPair pair = model::make_pretraining_pair(d, model::generator_config(d, 0.5));
  const data::Batch padded = two_sequences();
  data::Batch full = padded;
  full.input_ids = padded.input_ids.masked_fill(padded.input_ids.eq(0), 7);
  full.attention_mask = at::ones_like(padded.attention_mask);
  full.real_tokens = 12;
  for (const data::Batch* b : std::vector<const data::Batch*>{&padded, &full}) {
    at::Generator gumbel = at::detail::createCPUGenerator(9);
    RtdOutput out;
    // Tensor::item and every other read of a value on the host dispatch this operator.
    EXPECT_EQ(count_aten_ops(
                  [&] {
                    out = rtd_forward(pair, *b, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, gumbel);
                  },
                  "aten::_local_scalar_dense"),
              0)
        << b->real_tokens << " real tokens";
    EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  }
  // The padded batch's mask was applied: its loss is that of the mask passed explicitly.
  at::Generator g1 = at::detail::createCPUGenerator(9), g2 = at::detail::createCPUGenerator(9);
  data::Batch fixed = padded;
  fixed.fixed_mask = true;
  EXPECT_EQ(
      rtd_forward(pair, padded, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, g1).loss.item<double>(),
      rtd_forward(pair, fixed, at::kFloat, RtdOptions{1.0, 50.0, 1.0}, g2).loss.item<double>());
}

// On the CPU (and in a build without CUDA) a side stream is inert: asked for, it is not made,
// and an RTD step given it is the step without it.
TEST(Rtd, ASideStreamOnTheCpuIsInert) {
  SideStream side(at::kCPU, /*enabled=*/true);
  EXPECT_FALSE(side.active());
  { const SideStream::Scope scope = side.enter(); }
  side.join();
  side.share(at::ones({2}));
  torch::manual_seed(4);
  model::ElectraConfig d = tiny();
  model::PretrainingPair pair = model::make_pretraining_pair(d, model::generator_config(d, 0.5));
  at::Generator g1 = at::detail::createCPUGenerator(9), g2 = at::detail::createCPUGenerator(9);
  const data::Batch b = two_sequences();
  EXPECT_EQ(rtd_forward(pair, b, at::kFloat, {}, g1, &side).loss.item<double>(),
            rtd_forward(pair, b, at::kFloat, {}, g2).loss.item<double>());
}

TEST(Optimizer, OneAdamWStepByHand) {
  at::Tensor w = at::ones({1}).requires_grad_(true);
  at::Tensor b = at::ones({1}).requires_grad_(true);
  AdamW opt({{"x.weight", w}, {"x.bias", b}}, AdamWOptions{0.1, 0.9, 0.999, 1e-6, 0.01, true});
  w.mutable_grad() = at::full({1}, 0.5);
  b.mutable_grad() = at::full({1}, 0.5);
  opt.step(0.1);
  // m_hat = 0.5, v_hat = 0.25: update = lr * 0.5 / (0.5 + eps); decay only on the weight.
  const double update = 0.1 * 0.5 / (0.5 + 1e-6);
  EXPECT_NEAR(w.item<double>(), 1.0 * (1 - 0.1 * 0.01) - update, 1e-7);
  EXPECT_NEAR(b.item<double>(), 1.0 - update, 1e-7);
  EXPECT_FALSE(decays("electra.embeddings.LayerNorm.weight"));
  EXPECT_FALSE(decays("classifier.dense.bias"));
  EXPECT_TRUE(decays("classifier.dense.weight"));
}

TEST(Optimizer, MatchesLibTorchsAdamWOverManySteps) {
  // A small tensor, and one large enough for the CPU kernel to split over threads.
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4, 3}, {300, 500}}) {
    torch::manual_seed(0);
    at::Tensor a = at::randn(shape).requires_grad_(true);
    at::Tensor ref = a.detach().clone().requires_grad_(true);
    AdamW ours({{"w", a}}, AdamWOptions{1e-2, 0.9, 0.999, 1e-6, 0.01, true});
    torch::optim::AdamW theirs({ref},
                               torch::optim::AdamWOptions(1e-2).eps(1e-6).weight_decay(0.01));
    for (int i = 0; i < 20; ++i) {
      at::Tensor g = at::randn(shape);
      a.mutable_grad() = g.clone();
      ref.mutable_grad() = g.clone();
      ours.step(1e-2);
      theirs.step();
    }
    // A few float roundings apart (fused arithmetic vs tensor ops): relative to the weight.
    EXPECT_LT(((a - ref).abs() / ref.abs().clamp_min(1.0)).max().item<double>(), 1e-6);
  }
}

TEST(Optimizer, NonContiguousGradientsAndNoBiasCorrection) {
  // A transposed gradient (the kernel reads a contiguous copy) and bias_correction off
  // (ELECTRA's TF optimizer): p -= lr * m / (sqrt(v) + eps) with raw moments.
  at::Tensor w = at::ones({3, 2}).requires_grad_(true);
  AdamW opt({{"x.weight", w}}, AdamWOptions{0.1, 0.9, 0.999, 1e-6, 0.0, false});
  at::Tensor g = at::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).view({2, 3}).t();  // [3, 2]
  w.mutable_grad() = g;
  opt.step(0.1);
  const at::Tensor m = 0.1 * g, v = 0.001 * g * g;
  const at::Tensor expect = 1.0 - 0.1 * m / (v.sqrt() + 1e-6);
  EXPECT_LT((w.detach() - expect).abs().max().item<double>(), 1e-6);
}

TEST(Optimizer, SkipIfLeavesEverythingAsItWasAndIsNotCounted) {
  // A step flagged by skip_if (a non-finite gradient) changes nothing, not even the count the
  // bias corrections use: the next step is the one a run without the flagged step takes.
  at::Tensor w = at::ones({2}).requires_grad_(true);
  at::Tensor ref = at::ones({2}).requires_grad_(true);
  AdamW ours({{"x.weight", w}}, AdamWOptions{0.1, 0.9, 0.999, 1e-6, 0.01, true});
  AdamW theirs({{"x.weight", ref}}, AdamWOptions{0.1, 0.9, 0.999, 1e-6, 0.01, true});
  w.mutable_grad() = at::tensor({std::numeric_limits<float>::infinity(), 1.0f});
  ours.step(0.1, nonfinite_flag(at::scalar_tensor(std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(at::equal(w.detach(), at::ones({2})));
  EXPECT_EQ(ours.steps(), 0);
  EXPECT_TRUE(at::equal(ours.state().at("exp_avg.x.weight"), at::zeros({2})));
  w.mutable_grad() = at::tensor({0.5f, -2.0f});
  ref.mutable_grad() = at::tensor({0.5f, -2.0f});
  ours.step(0.1, nonfinite_flag(at::scalar_tensor(2.5)));
  theirs.step(0.1);
  EXPECT_EQ(ours.steps(), 1);
  EXPECT_TRUE(at::equal(w.detach(), ref.detach()));
  EXPECT_FALSE(at::equal(w.detach(), at::ones({2})));
  EXPECT_EQ(nonfinite_flag(at::scalar_tensor(std::nan(""))).item<float>(), 1.0f);
}

TEST(Optimizer, WarmupThenLinearDecay) {
  EXPECT_DOUBLE_EQ(warmup_linear_lr(1.0, 1, 10, 110), 0.1);
  EXPECT_DOUBLE_EQ(warmup_linear_lr(1.0, 5, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(warmup_linear_lr(1.0, 10, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(warmup_linear_lr(1.0, 60, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(warmup_linear_lr(1.0, 110, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(warmup_linear_lr(2.0, 1, 0, 100), 2.0 * 99 / 100);
}

TEST(Optimizer, ClipGradNorm) {
  at::Tensor a = at::zeros({2}).requires_grad_(true);
  at::Tensor b = at::zeros({1}).requires_grad_(true);
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  const std::vector<std::pair<std::string, at::Tensor>> ps{{"a", a}, {"b", b}};
  EXPECT_NEAR(clip_grad_norm(ps, 1.0).item<double>(), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
  EXPECT_NEAR(clip_grad_norm(ps, 10.0).item<double>(), 1.0, 1e-5);  // below the limit: unchanged
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-5);
}

}  // namespace
}  // namespace electra::pretrain
