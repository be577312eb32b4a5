// Data parallelism changes nothing but the speed: 2 ranks x 2 micro-steps x 2 sequences reach
// the weights that 1 process reaches with the same 8 sequences in one batch.
//
// Setting: a small ELECTRA pair (shared embeddings, tied generator head), dropout 0, a
// deterministic loss (generator cross-entropy on fixed targets + 50 x discriminator BCE on
// fixed labels; no sampling), every sequence the same length (so the mean over 8 equals the
// mean of the per-rank, per-micro-step means), AdamW lr 1e-3 for 3 steps. Each rank computes
// the single-process reference itself.
//
// Tolerance: the two runs add the same fp32 numbers in different orders (a batch of 8 vs two
// of 2, summed by autograd, then averaged by MPI), so the averaged gradients match the
// one-process gradients to a few fp32 ulps: checked as |dg| <= 1e-6 + 1e-4 |g| (measured:
// at most 2.4e-7 on gradients of magnitude 1). AdamW's update lr * m / (sqrt(v) + eps) turns a
// relative gradient error into at most ~lr x that error, except where |g| is near eps (1e-6),
// where it moves by at most ~lr * 1e-6 per step; after 3 steps the weights are checked as
// |dw| <= 1e-6 + 1e-5 |w| (measured: 7e-10 above the relative part). A real bug (a sum
// instead of an average, a lost micro-step, an unreduced shared embedding) changes gradients
// by O(|g|), far outside these bounds; the gradient check matters because Adam would hide a
// wrong scale.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "distributed/gradient_reducer.h"
#include "model/electra.h"
#include "pretrain/optimizer.h"
#include "tests/distributed_mpi/world.h"

namespace electra {
namespace {

using dist::mpi_test::world;
constexpr int64_t kVocab = 40, kSeq = 12, kGlobalBatch = 8;

struct Trainee {
  model::PretrainingPair pair;
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::unique_ptr<pretrain::AdamW> opt;
};

Trainee make_setup() {
  model::ElectraConfig d;
  d.vocab_size = kVocab;
  d.embedding_size = 12;
  d.hidden_size = 16;
  d.num_hidden_layers = 2;
  d.num_attention_heads = 2;
  d.intermediate_size = 32;
  d.max_position_embeddings = 16;
  d.hidden_dropout_prob = 0;
  d.attention_probs_dropout_prob = 0;
  at::manual_seed(1234);
  Trainee s;
  s.pair = model::make_pretraining_pair(d, model::generator_config(d, 0.5));
  s.params = model::unique_parameters(s.pair);
  pretrain::AdamWOptions o;
  o.lr = 1e-3;
  s.opt = std::make_unique<pretrain::AdamW>(s.params, o);
  return s;
}

struct Data {
  at::Tensor ids, targets, labels;  // [8, seq] int64, [8, seq] int64, [8, seq] float
};

Data batch_for_step(int step) {
  at::manual_seed(77 + step);  // the same on every rank
  Data d;
  d.ids = at::randint(5, kVocab, {kGlobalBatch, kSeq}, at::kLong);
  d.targets = at::randint(5, kVocab, {kGlobalBatch, kSeq}, at::kLong);
  d.labels = at::randint(0, 2, {kGlobalBatch, kSeq}, at::kLong).to(at::kFloat);
  return d;
}

// Mean loss over the sequences [first, first + n).
at::Tensor loss_on(Trainee& s, const Data& d, int64_t first, int64_t n) {
  const at::Tensor ids = d.ids.narrow(0, first, n);
  const at::Tensor mask = at::ones_like(ids);
  const at::Tensor types = at::zeros_like(ids);
  const at::Tensor gen = s.pair.generator->forward(ids, mask, types);  // [n, seq, vocab]
  const at::Tensor gen_loss = at::nll_loss(at::log_softmax(gen.reshape({-1, kVocab}), -1),
                                           d.targets.narrow(0, first, n).reshape(-1));
  const at::Tensor disc = s.pair.discriminator->forward(ids, mask, types);  // [n, seq]
  const at::Tensor disc_loss =
      at::binary_cross_entropy_with_logits(disc, d.labels.narrow(0, first, n));
  return gen_loss + 50.0 * disc_loss;
}

TEST(DataParallelEquivalence, TwoRanksMatchOneProcessWithTheSameExamples) {
  if (world().world_size() != 2) GTEST_SKIP() << "written for exactly 2 ranks";
  Trainee ref = make_setup();
  Trainee par = make_setup();
  dist::GradientReducer reducer(world(), par.params, {0.01, 1});  // 10 KiB: several buckets
  reducer.broadcast_parameters(0);
  const int64_t per_rank = kGlobalBatch / 2, micro = per_rank / 2;
  for (int step = 1; step <= 3; ++step) {
    const Data d = batch_for_step(step);
    loss_on(ref, d, 0, kGlobalBatch).backward();
    for (int m = 0; m < 2; ++m) {
      reducer.prepare_backward(m == 1);
      (loss_on(par, d, world().rank() * per_rank + m * micro, micro) / 2.0).backward();
    }
    reducer.finish();
    // The averaged gradients are the one-process gradients (Adam would hide a wrong scale).
    for (size_t i = 0; i < ref.params.size(); ++i) {
      const at::Tensor& g = ref.params[i].second.grad();
      const at::Tensor& h = par.params[i].second.grad();
      ASSERT_EQ(g.defined(), h.defined()) << ref.params[i].first;
      if (!g.defined()) continue;
      const double excess = ((g - h).abs() - 1e-4 * g.abs()).max().item<double>();
      EXPECT_LE(excess, 1e-6) << ref.params[i].first << " step " << step;
      if (std::getenv("ELECTRA_EQ_DEBUG"))
        std::printf("grad %s max abs diff %.3g max |g| %.3g\n", ref.params[i].first.c_str(),
                    (g - h).abs().max().item<double>(), g.abs().max().item<double>());
    }
    ref.opt->step(1e-3);
    ref.opt->zero_grad();
    par.opt->step(1e-3);
    par.opt->zero_grad();
    reducer.check_parameters_if_due(step);
  }
  double worst = 0;
  std::string worst_name;
  for (size_t i = 0; i < ref.params.size(); ++i) {
    const at::Tensor& a = ref.params[i].second;
    const at::Tensor& b = par.params[i].second;
    ASSERT_EQ(ref.params[i].first, par.params[i].first);
    const double excess = ((a - b).abs() - 1e-5 * a.abs()).max().item<double>();
    if (excess > worst) {
      worst = excess;
      worst_name = ref.params[i].first;
    }
  }
  EXPECT_LE(worst, 1e-6) << "worst: " << worst_name;
  if (std::getenv("ELECTRA_EQ_DEBUG"))
    std::printf("weights: worst excess %.3g (%s)\n", worst, worst_name.c_str());
  // And it did train: the weights moved by ~lr.
  const at::Tensor w0 = make_setup().params[0].second;
  EXPECT_GT((par.params[0].second - w0).abs().max().item<double>(), 5e-4);
}

}  // namespace
}  // namespace electra
