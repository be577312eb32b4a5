// pretrain/graphed_step.h on a GPU: steps replayed from a CUDA graph are the eager steps (the
// same losses, gradient norms and weights, so the inputs, the dropout seeds and the Gumbel noise
// are all fresh each replay), and a batch of other shapes runs eagerly in between. Skips
// without a CUDA device or in a build without CUDA graphs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <vector>

#include "common/rng.h"
#include "data/batch.h"
#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "model/electra.h"
#include "model/encoder.h"
#include "pretrain/device.h"
#include "pretrain/graphed_step.h"
#include "pretrain/optimizer.h"
#include "pretrain/step.h"
#include "tests/support/sdpa_parity.h"

namespace electra {
namespace {

const at::Device kCuda(at::kCUDA, 0);

// 8 sequences of 32 tokens, the last one with `last` real tokens. 4 masked positions in each
// (the capacity) down to 27 real tokens, 3 with 20.
data::Batch batch(uint64_t seed, int last = 32) {
  data::SpecialIds special;
  Rng rng(seed);
  std::vector<data::Example> ex(8);
  for (size_t i = 0; i < ex.size(); ++i) {
    auto& e = ex[i];
    e.length = i + 1 == ex.size() ? last : 32;
    for (int64_t j = 0; j < 32; ++j)
      e.ids.push_back(j < e.length ? static_cast<int32_t>(rng.uniform_int(5, 99)) : special.pad);
    e.ids[0] = special.cls;
    e.ids[static_cast<size_t>(e.length - 1)] = special.sep;
    e.types.assign(32, 0);
  }
  return data::mask_examples(ex, special, {}, seed);
}

struct Trace {
  std::vector<double> losses, gen_losses, masked, norms;
  std::vector<at::Tensor> weights;  // after the last step, on the CPU
  int64_t replays = 0, eager = 0;
};

// gen_stream: StepParts::generator_stream (the generator on a side stream when 1).
Trace train(bool graphs, const std::vector<data::Batch>& batches, int gen_stream = 0) {
  torch::manual_seed(5);
  model::ElectraConfig disc_cfg = testing::parity_config();
  model::PretrainingPair pair =
      model::make_pretraining_pair(disc_cfg, model::generator_config(disc_cfg, 0.5));
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(pair.discriminator.get()),
                               static_cast<torch::nn::Module*>(pair.generator.get())}) {
    m->to(kCuda);
    m->train();
    model::set_fused_layer_norm(*m, true);  // the kernel whose seeds come from the slots
    model::set_attention(*m, model::sdpa_available() ? model::AttentionKernel::kSdpa
                                                     : model::AttentionKernel::kEager);
  }
  auto params = model::unique_parameters(pair);
  auto comm = dist::make_single_process_communicator();
  dist::GradientReducer reducer(*comm, params, {25.0, 0});
  pretrain::AdamW optimizer(params, {});
  at::Generator gumbel = pretrain::make_generator(kCuda, 9);
  torch::manual_seed(77);  // the CPU generator (LayerNorm seeds) and CUDA's (other dropout)
  pretrain::StepParts parts;
  parts.pair = &pair;
  parts.params = &params;
  parts.reducer = &reducer;
  parts.gumbel = &gumbel;
  parts.dtype = at::kFloat;
  parts.device = kCuda;
  parts.clip_norm = 1.0;
  parts.generator_stream = gen_stream;
  pretrain::GraphedStep step(parts, graphs, 1, pretrain::GraphedStep::masked_capacity(8, 32, 0.15));
  Trace t;
  for (const data::Batch& b : batches) {
    const at::Tensor norm = step.run([&](int64_t) -> const data::Batch& { return b; },
                                     [&](const pretrain::RtdOutput& out, const data::Batch&) {
                                       t.losses.push_back(out.loss.item<double>());
                                       t.gen_losses.push_back(out.gen_loss.item<double>());
                                       t.masked.push_back(out.masked.item<double>());
                                     });
    t.norms.push_back(norm.item<double>());
    optimizer.step(1e-3, pretrain::nonfinite_flag(norm));
    optimizer.zero_grad();
  }
  for (const auto& [name, p] : params)
    t.weights.push_back(p.detach().cpu());
  t.replays = step.replays();
  t.eager = step.eager_steps();
  return t;
}

// Why these tests cannot run here (no CUDA device, or no CUDA graphs for one rank), or "".
std::string skip_reason() {
  if (!torch::cuda::is_available()) return "no CUDA device visible to LibTorch";
  return pretrain::cuda_graphs_unsupported(kCuda, 1, 1, false);
}

// got's first `steps` losses and gradient norms are want's. A stale input, seed or Gumbel draw
// changes a loss by far more than the GPU's order-of-summation differences.
void expect_same_steps(const Trace& got, const Trace& want, size_t steps) {
  for (size_t i = 0; i < steps; ++i) {
    EXPECT_NEAR(got.losses[i], want.losses[i], 1e-4 * std::abs(want.losses[i])) << i;
    EXPECT_NEAR(got.norms[i], want.norms[i], 1e-3 * want.norms[i]) << i;
  }
}

// The largest difference between the two runs' final weights.
double max_weight_difference(const Trace& a, const Trace& b) {
  double worst = 0;
  for (size_t i = 0; i < a.weights.size(); ++i)
    worst = std::max(worst, (a.weights[i] - b.weights[i]).abs().max().item<double>());
  return worst;
}

TEST(GpuGraphs, ReplayedStepsAreTheEagerSteps) {
  const std::string why = skip_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  // Two warm-up steps, the capture (replayed at once), two replays, a padded batch (eager), and
  // one more replay after it.
  std::vector<data::Batch> batches;
  for (uint64_t s = 1; s <= 7; ++s)
    batches.push_back(batch(s, s == 6 ? 20 : 32));
  const Trace eager = train(false, batches), graphed = train(true, batches);
  EXPECT_EQ(graphed.replays, 4);
  EXPECT_EQ(graphed.eager, 3);
  EXPECT_EQ(eager.eager, 7);
  expect_same_steps(graphed, eager, batches.size());
  // The losses move from step to step: the comparison above is not of constants.
  EXPECT_NE(eager.losses[3], eager.losses[4]);
  EXPECT_LT(max_weight_difference(graphed, eager), 1e-5);
}

// The first batch the graph takes has padding: the graph applies the mask without looking, and
// every later batch replays, padded or not, with fillers where it has fewer masked positions.
TEST(GpuGraphs, PaddedBatchesReplayWithFillerTargets) {
  const std::string why = skip_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  // Padded (28-31 real tokens, still 4 masked per sequence), one without padding, and last one
  // with 3 masked positions in its short sequence: 31 targets and a filler.
  const std::vector<data::Batch> batches = {batch(1, 30), batch(2, 28), batch(3, 31),
                                            batch(4, 29), batch(5),     batch(6, 20)};
  const Trace eager = train(false, batches), graphed = train(true, batches);
  EXPECT_EQ(graphed.replays, 4);
  EXPECT_EQ(graphed.eager, 2);
  expect_same_steps(graphed, eager, batches.size() - 1);
  // The last batch: its Gumbel noise was drawn for 32 rows rather than 31, so its replacements
  // (and the discriminator's loss) differ; the generator's loss comes before sampling and must
  // average over the 31 real targets only, as the eager step does.
  EXPECT_EQ(eager.masked.back(), 31);
  EXPECT_EQ(graphed.masked.back(), 31);
  EXPECT_NEAR(graphed.gen_losses.back(), eager.gen_losses.back(),
              1e-5 * std::abs(eager.gen_losses.back()));
  EXPECT_TRUE(std::isfinite(graphed.losses.back()));
}

// The generator on a side stream (pretrain/side_stream.h), captured and replayed: the capture
// forks the side stream and must get it back, and the replays must give the steps of one
// stream without a graph (eager, then replayed, then a padded batch eager).
TEST(GpuGraphs, TheGeneratorStreamReplaysTheSameSteps) {
  const std::string why = skip_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  std::vector<data::Batch> batches;
  for (uint64_t s = 1; s <= 6; ++s)
    batches.push_back(batch(s, s == 5 ? 20 : 32));
  const Trace one = train(false, batches, 0), two = train(true, batches, 1);
  EXPECT_EQ(two.replays, 3);
  expect_same_steps(two, one, batches.size());
  EXPECT_LT(max_weight_difference(two, one), 1e-5);
}

}  // namespace
}  // namespace electra
