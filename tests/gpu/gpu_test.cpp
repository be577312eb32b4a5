// CUDA checks (label `gpu`, binary test_gpu). Every test skips when LibTorch sees no CUDA
// device, so the binary passes on CPU-only machines; bench/gpu_check.sh runs it on a GPU.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/batch.h"
#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "model/electra.h"
#include "model/param_cast.h"
#include "model/safetensors.h"
#include "pretrain/device.h"
#include "pretrain/loss_scaler.h"
#include "pretrain/optimizer.h"
#include "pretrain/step.h"
#include "pretrain/trainer.h"
#include "tests/support/pretrain_fixture.h"
#include "tests/support/sdpa_parity.h"

#if defined(ELECTRA_WITH_CUDA)
#include "tests/support/sync_debug.h"
#endif

namespace electra {
namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch"

const at::Device kCuda(at::kCUDA, 0);

// Discriminator logits ([4, 24]) of the same weights on `device` in `dt`, evaluation mode, with
// one padded row.
at::Tensor disc_logits(const at::Device& device, at::ScalarType dt) {
  torch::manual_seed(11);
  model::ElectraForPreTraining disc(testing::parity_config());
  disc->to(device);
  disc->eval();
  torch::NoGradGuard no_grad;
  at::Tensor ids = at::randint(5, 100, {4, 24}, at::kLong);  // [4, 24]
  at::Tensor mask = at::ones({4, 24}, at::kLong);
  mask[3].slice(0, 17).zero_();
  return disc(ids.to(device), mask.to(device), at::Tensor(), dt).to(at::kCPU);  // [4, 24] fp32
}

TEST(Gpu, DiscriminatorForwardMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  const at::Tensor cpu = disc_logits(at::kCPU, at::kFloat);
  const double scale = std::max(1.0, cpu.abs().max().item<double>());
  EXPECT_LT((disc_logits(kCuda, at::kFloat) - cpu).abs().max().item<double>(), 1e-4);
  // bf16 matmuls keep ~3 significant digits; LayerNorm and softmax stay fp32.
  EXPECT_LT((disc_logits(kCuda, at::kBFloat16) - cpu).abs().max().item<double>(), 5e-2 * scale);
  EXPECT_LT((disc_logits(kCuda, at::kHalf) - cpu).abs().max().item<double>(), 1e-2 * scale);
}

TEST(Gpu, SdpaMatchesEagerOnCuda) {
  SKIP_WITHOUT_CUDA();
  if (!model::sdpa_available()) GTEST_SKIP() << "this LibTorch has no SDPA";
  EXPECT_LT(testing::eager_sdpa_max_diff(kCuda, at::kFloat, /*padded=*/false), 1e-5);
  EXPECT_LT(testing::eager_sdpa_max_diff(kCuda, at::kFloat, /*padded=*/true), 1e-5);
  // bf16: both paths round q, k, v and the probabilities to bf16, in different orders.
  EXPECT_LT(testing::eager_sdpa_max_diff(kCuda, at::kBFloat16, /*padded=*/true), 5e-2);
}

// 8 sequences of 32 tokens, masked as the training pipeline masks them; `padded`: the odd ones
// end early (at 32 - 3 i tokens), followed by [PAD]s.
data::Batch small_batch(bool padded = false) {
  data::SpecialIds special;
  std::vector<data::Example> ex(8);
  at::Tensor r = at::randint(5, 100, {8, 32}, at::kInt);
  for (int64_t i = 0; i < 8; ++i) {
    auto& e = ex[static_cast<size_t>(i)];
    e.length = padded && i % 2 == 1 ? 32 - 3 * i : 32;
    for (int64_t j = 0; j < 32; ++j)
      e.ids.push_back(j < e.length ? r[i][j].item<int32_t>() : special.pad);
    e.ids[0] = special.cls;
    e.ids[static_cast<size_t>(e.length - 1)] = special.sep;
    e.types.assign(32, 0);
  }
  return data::mask_examples(ex, special, {}, 7);
}

// A parity_config() pair (seeded, so every instance starts from the same weights) on CUDA in
// training mode, with what one forward_backward needs.
struct CudaStep {
  model::PretrainingPair pair;
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  std::unique_ptr<dist::GradientReducer> reducer;
  at::Generator gumbel = pretrain::make_generator(kCuda, 9);
  pretrain::StepParts parts;

  explicit CudaStep(at::ScalarType dt) {
    torch::manual_seed(5);
    model::ElectraConfig disc_cfg = testing::parity_config();
    pair = model::make_pretraining_pair(disc_cfg, model::generator_config(disc_cfg, 0.5));
    pair.discriminator->to(kCuda);
    pair.generator->to(kCuda);
    pair.discriminator->train();
    pair.generator->train();
    params = model::unique_parameters(pair);
    reducer = std::make_unique<dist::GradientReducer>(*comm, params, dist::ReducerOptions{25.0, 0});
    parts.pair = &pair;
    parts.params = &params;
    parts.reducer = reducer.get();
    parts.gumbel = &gumbel;
    parts.dtype = dt;
    parts.device = kCuda;
  }
};

// One full RTD training step on CUDA in `dt` (with loss scaling for fp16): finite loss and
// gradient norm, and the weights move.
void rtd_step_on_cuda(at::ScalarType dt) {
  CudaStep st(dt);
  auto& params = st.params;
  auto& parts = st.parts;
  const at::Tensor before = params.front().second.detach().clone();
  pretrain::AdamW optimizer(params, {});
  pretrain::LossScaler scaler({}, dt == at::kHalf);
  const data::Batch batch = small_batch();
  // A fresh pair at scale 2^16 may overflow in fp16: then the scaler skips the step and backs
  // off, and the next attempt runs at half the scale (at most a few times).
  bool applied = false;
  for (int attempt = 0; attempt < 8 && !applied; ++attempt) {
    parts.loss_scale = scaler.scale();
    double loss = 0;
    const double norm = pretrain::forward_backward(
                            parts, [&](int64_t) -> const data::Batch& { return batch; },
                            [&](const pretrain::RtdOutput& out, const data::Batch&) {
                              EXPECT_TRUE(out.loss.is_cuda());
                              loss = out.loss.item<double>();
                            })
                            .item<double>();
    EXPECT_TRUE(std::isfinite(loss)) << loss;
    if (dt != at::kHalf) {
      EXPECT_TRUE(std::isfinite(norm)) << norm;
    }
    const double scale_before = scaler.scale();
    applied = scaler.update(!std::isfinite(norm));
    if (applied) {
      EXPECT_GT(norm, 0);
      optimizer.step(1e-3);
    } else {
      EXPECT_EQ(scaler.scale(), scale_before * 0.5);
    }
    optimizer.zero_grad();
  }
  ASSERT_TRUE(applied) << "no finite step in 8 attempts (" << c10::toString(dt) << ")";
  EXPECT_TRUE(params.front().second.is_cuda());
  EXPECT_GT((params.front().second.detach().cpu() - before.cpu()).abs().max().item<double>(), 0);
}

TEST(Gpu, RtdTrainStepInBf16) {
  SKIP_WITHOUT_CUDA();
  rtd_step_on_cuda(at::kBFloat16);
}

TEST(Gpu, RtdTrainStepInFp16WithLossScaling) {
  SKIP_WITHOUT_CUDA();
  rtd_step_on_cuda(at::kHalf);
}

// forward_backward queues a whole step without waiting for the device (pretrain/step.h), on a
// padded batch too, whose mask the encoders apply without looking at it. LibTorch's sync debug
// mode turns every synchronising call it knows of (a value read to the host, a stream or device
// synchronisation) into an error. The first step runs unchecked: it sets things up. Also with the
// generator on a side stream (pretrain/side_stream.h), whose fork and joins are events.
TEST(Gpu, AStepOnAPaddedBatchNeverWaitsForTheDevice) {
  SKIP_WITHOUT_CUDA();
#if !defined(ELECTRA_WITH_CUDA)
  GTEST_SKIP() << "built without ELECTRA_WITH_CUDA";
#else
  const data::Batch batch = small_batch(/*padded=*/true);
  ASSERT_LT(batch.real_tokens, batch.input_ids.numel());
  for (const auto& [dt, gen_stream] :
       {std::pair{at::kBFloat16, 0}, {at::kFloat, 0}, {at::kBFloat16, 1}}) {
    SCOPED_TRACE(std::string(c10::toString(dt)) + ", generator stream " +
                 std::to_string(gen_stream));
    CudaStep st(dt);
    st.parts.generator_stream = gen_stream;
    const auto step = [&] {
      at::Tensor loss;
      at::Tensor norm = pretrain::forward_backward(
          st.parts, [&](int64_t) -> const data::Batch& { return batch; },
          [&](const pretrain::RtdOutput& o, const data::Batch&) { loss = o.loss; });
      return std::make_pair(loss, norm);
    };
    step();
    for (auto& [name, p] : st.params)
      p.mutable_grad() = at::Tensor();
    std::pair<at::Tensor, at::Tensor> out;
    const std::string error = testing::sync_error_of([&] { out = step(); });
    EXPECT_EQ(error, "");
    if (!error.empty()) continue;
    EXPECT_TRUE(std::isfinite(out.first.item<double>()));
    EXPECT_TRUE(std::isfinite(out.second.item<double>()));
  }
#endif
}

// One forward_backward of a fresh CudaStep in `dt` over batches[0 .. accum) (fp16 at a fixed
// loss scale), with dropout and the Gumbel noise seeded alike, after `set` adjusted its parts.
struct StepResult {
  double loss = 0, norm = 0;
  std::vector<std::string> names;
  std::vector<at::Tensor> grads;  // on the CPU; undefined where a parameter got none
};
StepResult one_step(at::ScalarType dt, int accum, const data::Batch* batches,
                    const std::function<void(pretrain::StepParts&)>& set) {
  CudaStep st(dt);
  st.parts.loss_scale = dt == at::kHalf ? 256.0 : 1.0;
  st.parts.grad_accum = accum;
  set(st.parts);
  torch::manual_seed(17);
  StepResult out;
  out.norm = pretrain::forward_backward(
                 st.parts, [&](int64_t micro) -> const data::Batch& { return batches[micro]; },
                 [&](const pretrain::RtdOutput& o, const data::Batch&) {
                   out.loss += o.loss.item<double>();
                 })
                 .item<double>();
  for (const auto& [name, p] : st.params) {
    out.names.push_back(name);
    out.grads.push_back(p.grad().defined() ? p.grad().cpu() : at::Tensor());
  }
  return out;
}

// The same loss, gradient norm and gradients, bit for bit, but for the tied word embeddings.
// They have three uses (both lookups in fp32 and the generator's head through its cast), and
// their three fp32 gradients may be summed in another order: seen on an H200 with the one-pass
// cast, where the head's now arrives with all the casts' at the end of the backward. So they,
// and the gradient norm that includes them, are compared to fp32 rounding.
void expect_same_step(const StepResult& a, const StepResult& b) {
  EXPECT_EQ(b.loss, a.loss);
  EXPECT_NEAR(b.norm, a.norm, 1e-6 * a.norm);
  ASSERT_EQ(b.grads.size(), a.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    const std::string& name = a.names[i];
    ASSERT_EQ(b.grads[i].defined(), a.grads[i].defined()) << name;
    if (!a.grads[i].defined()) continue;
    if (name.find("word_embeddings") != std::string::npos) {
      const double scale = a.grads[i].abs().max().item<double>();
      EXPECT_LE((b.grads[i] - a.grads[i]).abs().max().item<double>(), 1e-6 * scale) << name;
    } else {
      EXPECT_TRUE(at::equal(b.grads[i], a.grads[i])) << name;
    }
  }
}

// The step's one cast pass over all weights (model/param_cast.h) against a cast per product, in
// bf16 and in fp16. With grad_accum 2 (the second micro-batch padded) each micro-step has its
// own pass, and the second's gradients are added to the first's.
TEST(Gpu, OneCastPassGivesThePerProductCastsBits) {
  SKIP_WITHOUT_CUDA();
  if (!model::param_cast_enabled()) GTEST_SKIP() << "ELECTRA_CUDA_CAST_ONCE=0";
  const data::Batch batches[2] = {small_batch(), small_batch(/*padded=*/true)};
  for (const auto& [dt, accum] :
       {std::pair{at::kBFloat16, 1}, {at::kHalf, 1}, {at::kBFloat16, 2}}) {
    SCOPED_TRACE(std::string(c10::toString(dt)) + ", grad_accum " + std::to_string(accum));
    const auto with = [](bool once) {
      return [once](pretrain::StepParts& p) {
        p.cast_weights_once = once;
        p.generator_stream = 0;
      };
    };
    expect_same_step(one_step(dt, accum, batches, with(false)),
                     one_step(dt, accum, batches, with(true)));
  }
}

// The generator on a side stream (pretrain/side_stream.h) computes the step of one stream: in
// bf16 with the one-pass cast, whose gradient node the two streams' backward passes meet at, and
// in fp32 without it; with grad_accum 2, where each micro-step forks and joins the stream.
TEST(Gpu, TheGeneratorStreamGivesTheStepOfOneStream) {
  SKIP_WITHOUT_CUDA();
  const data::Batch batches[2] = {small_batch(/*padded=*/true), small_batch()};
  for (const auto& [dt, accum] :
       {std::pair{at::kBFloat16, 1}, {at::kFloat, 1}, {at::kBFloat16, 2}}) {
    SCOPED_TRACE(std::string(c10::toString(dt)) + ", grad_accum " + std::to_string(accum));
    const auto with = [](int stream) {
      return [stream](pretrain::StepParts& p) { p.generator_stream = stream; };
    };
    expect_same_step(one_step(dt, accum, batches, with(0)), one_step(dt, accum, batches, with(1)));
  }
}

// The same AdamW steps (decayed and exempt parameters, per-parameter lr scales, clipping) on
// the CPU (the one-pass CPU kernel) and on CUDA (ATen's multi-tensor kernel on LibTorch 2.1+,
// tensor ops before): the same weights, moments and gradient norm.
void adamw_cuda_matches_cpu(bool bias_correction) {
  torch::manual_seed(21);
  const std::vector<std::string> names{"a.weight", "a.bias", "b.LayerNorm.weight", "c.weight"};
  const std::vector<double> scales{1.0, 1.0, 0.8, 0.64};
  std::vector<std::pair<std::string, at::Tensor>> cpu, gpu;
  for (size_t i = 0; i < names.size(); ++i) {
    at::Tensor w = at::randn({static_cast<int64_t>(37 * (i + 1)), 5});
    cpu.emplace_back(names[i], w.clone().requires_grad_(true));
    gpu.emplace_back(names[i], w.to(kCuda).requires_grad_(true));
  }
  pretrain::AdamWOptions o{1e-2, 0.9, 0.999, 1e-6, 0.1, bias_correction};
  pretrain::AdamW opt_cpu(cpu, o, scales), opt_gpu(gpu, o, scales);
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < names.size(); ++i) {
      at::Tensor g = at::randn(cpu[i].second.sizes()) * static_cast<double>(i + 1);
      cpu[i].second.mutable_grad() = g.clone();
      gpu[i].second.mutable_grad() = g.to(kCuda);
    }
    const double n_cpu = pretrain::clip_grad_norm(cpu, 1.0).item<double>();
    const double n_gpu = pretrain::clip_grad_norm(gpu, 1.0).item<double>();
    EXPECT_NEAR(n_gpu, n_cpu, 1e-4 * n_cpu);
    // Step 2 is flagged as non-finite: the host reads the flag on the CPU, the fused kernel on
    // the device; both leave the weights and the bias-correction count as they were.
    const double skip = step == 2 ? 1.0 : 0.0;
    const at::Tensor before = gpu[0].second.detach().clone();
    opt_cpu.step(1e-2, at::full({}, skip));
    opt_gpu.step(1e-2, at::full({}, skip, at::TensorOptions().device(kCuda)));
    if (skip != 0.0) {
      EXPECT_TRUE(at::equal(gpu[0].second.detach(), before));
    }
  }
  EXPECT_EQ(opt_cpu.steps(), 4);
#if ELECTRA_HAS_FUSED_ADAMW
  EXPECT_EQ(opt_gpu.steps(), 5);  // calls; the device dropped one of them
  EXPECT_EQ(opt_gpu.device_skips().item<double>(), 1.0);
#endif
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_LT((gpu[i].second.detach().cpu() - cpu[i].second.detach()).abs().max().item<double>(),
              1e-5)
        << names[i];
  const auto sc = opt_cpu.state(), sg = opt_gpu.state();
  for (const auto& [key, t] : sc)
    EXPECT_LT((sg.at(key).cpu() - t).abs().max().item<double>(), 1e-5) << key;
}

TEST(Gpu, AdamWOnCudaMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  adamw_cuda_matches_cpu(/*bias_correction=*/true);
  adamw_cuda_matches_cpu(/*bias_correction=*/false);
}

// `electra pretrain` end to end on the GPU in bf16: it learns, writes checkpoints, and a run
// stopped at step 13 resumes to the same weights as a straight run (up to the GPU's
// non-deterministic atomics; a lost RNG or optimizer state would differ by ~lr per step).
TEST(Gpu, PretrainingLearnsAndResumesOnCuda) {
  SKIP_WITHOUT_CUDA();
  testing::PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::vector<std::string> gpu{"train.device=cuda", "train.precision=bf16"};
  const std::string a = f.dir.file("straight"), b = f.dir.file("stopped");
  const pretrain::PretrainResult straight = pretrain::run_pretraining(f.config(a, 30, gpu), *comm);
  EXPECT_EQ(straight.step, 30);
  EXPECT_LT(straight.last_loss, straight.first_loss);
  auto stop = gpu;
  stop.push_back("train.exit_after_steps=13");
  EXPECT_EQ(pretrain::run_pretraining(f.config(b, 30, stop), *comm).step, 13);
  EXPECT_EQ(pretrain::run_pretraining(f.config(b, 30, gpu), *comm).step, 30);
  for (const char* part : {"discriminator", "generator"}) {
    const auto wa =
        model::read_safetensors(a + "/checkpoints/step-00000030/" + part + "/model.safetensors")
            .tensors;
    const auto wb =
        model::read_safetensors(b + "/checkpoints/step-00000030/" + part + "/model.safetensors")
            .tensors;
    ASSERT_EQ(wa.size(), wb.size());
    double worst = 0;
    for (const auto& [name, t] : wa)
      worst = std::max(worst, (t - wb.at(name)).abs().max().item<double>());
    EXPECT_LT(worst, 1e-3) << part;
  }
}

// A run whose steps 3, 4 and 8 have NaN gradients, on the GPU in bf16: AdamW drops those
// updates on the device and the trainer judges each norm one step late (the default), or at
// once (train.wait_each_step): the same verdicts either way, and finite weights.
TEST(Gpu, NonFiniteStepsAreDroppedOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  setenv("ELECTRA_FAULT_NONFINITE_STEPS", "3,4,8", 1);
  for (const char* wait : {"train.wait_each_step=false", "train.wait_each_step=true"}) {
    SCOPED_TRACE(wait);
    testing::PretrainFixture f;
    auto comm = dist::make_single_process_communicator();
    const std::string out = f.dir.file("poisoned");
    const pretrain::PretrainResult r = pretrain::run_pretraining(
        f.config(out, 10, {"train.device=cuda", "train.precision=bf16", wait}), *comm);
    EXPECT_EQ(r.step, 10);
    EXPECT_EQ(r.skipped_steps, 3);
    for (const char* part : {"discriminator", "generator"})
      for (const auto& [name, t] : model::read_safetensors(out + "/checkpoints/step-00000010/" +
                                                           part + "/model.safetensors")
                                       .tensors)
        EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << part << " " << name;
  }
  unsetenv("ELECTRA_FAULT_NONFINITE_STEPS");
}

TEST(Gpu, CudaGeneratorStateRoundTrips) {
  SKIP_WITHOUT_CUDA();
  at::Generator g = pretrain::make_generator(kCuda, 1234);
  const std::string state = pretrain::generator_state(g);
  at::Tensor a = at::empty({1000}, at::TensorOptions().device(kCuda));
  a.uniform_(0.0, 1.0, g);
  pretrain::set_generator_state(g, state, "test");
  at::Tensor b = at::empty({1000}, at::TensorOptions().device(kCuda));
  b.uniform_(0.0, 1.0, g);
  EXPECT_TRUE(at::equal(a, b));
  // The same seed gives the same stream; the default CUDA generator's state too.
  at::Generator h = pretrain::make_generator(kCuda, 1234);
  at::Tensor c = at::empty({1000}, at::TensorOptions().device(kCuda));
  c.uniform_(0.0, 1.0, h);
  EXPECT_TRUE(at::equal(a, c));
  at::Generator def = pretrain::default_generator(kCuda);
  const std::string ds = pretrain::generator_state(def);
  at::Tensor d1 = at::dropout(at::ones({4096}, at::TensorOptions().device(kCuda)), 0.5, true);
  pretrain::set_generator_state(def, ds, "test");
  at::Tensor d2 = at::dropout(at::ones({4096}, at::TensorOptions().device(kCuda)), 0.5, true);
  EXPECT_TRUE(at::equal(d1, d2));
}

TEST(Gpu, DeviceHelpers) {
  SKIP_WITHOUT_CUDA();
  const std::string name = pretrain::describe_device(kCuda);
  EXPECT_EQ(name.rfind("cuda:0", 0), 0u) << name;
  pretrain::reset_peak_device_memory(kCuda);
  at::Tensor big = at::empty({64 << 20}, at::TensorOptions().device(kCuda).dtype(at::kByte));
  const auto peak = pretrain::peak_device_memory_mb(kCuda);
#if defined(ELECTRA_WITH_CUDA)
  ASSERT_TRUE(peak.has_value());
  EXPECT_GE(*peak, 64.0);
  EXPECT_GT(name.size(), 7u);  // the card's name follows
#else
  EXPECT_FALSE(peak.has_value());
#endif
}

}  // namespace
}  // namespace electra
