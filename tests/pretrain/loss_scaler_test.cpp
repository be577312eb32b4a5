// fp16 dynamic loss scaling (pretrain/loss_scaler.h) and the unscaling in clip_grad_norm, on
// CPU fp32 tensors: the policy does not depend on the device.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/fs.h"
#include "pretrain/checkpoint.h"
#include "pretrain/loss_scaler.h"
#include "pretrain/optimizer.h"
#include "pretrain/pretrain_config.h"
#include "tests/support/temp_dir.h"
#include "tests/support/user_error.h"

namespace electra::pretrain {
namespace {

using Params = std::vector<std::pair<std::string, at::Tensor>>;

// Two parameters whose gradients are (3, 4) times `scale`: unscaled norm 5.
Params scaled_grads(double scale) {
  Params ps = {{"a", at::zeros({1})}, {"b", at::zeros({1})}};
  ps[0].second.mutable_grad() = at::full({1}, 3.0 * scale);
  ps[1].second.mutable_grad() = at::full({1}, 4.0 * scale);
  return ps;
}

LossScalerOptions small_interval() {
  LossScalerOptions o;
  o.init_scale = 1024;
  o.growth_interval = 3;
  return o;
}

TEST(LossScaler, DisabledIsTheIdentity) {
  LossScaler s(small_interval(), /*enabled=*/false);
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_TRUE(s.update(false));
  EXPECT_FALSE(s.update(true));  // a non-finite step is still not applied
  EXPECT_EQ(s.scale(), 1.0);
}

TEST(LossScaler, UnscalingInTheClipGivesTheUnscaledNormAndGradients) {
  // Gradients of a loss scaled by 1024: the returned norm and the gradients are the unscaled
  // ones, clipped to 2.5 (coefficient 2.5 / 5).
  Params ps = scaled_grads(1024);
  EXPECT_NEAR(clip_grad_norm(ps, 2.5, 1.0 / 1024).item<double>(), 5.0, 1e-5);
  EXPECT_NEAR(ps[0].second.grad().item<double>(), 1.5, 1e-5);
  EXPECT_NEAR(ps[1].second.grad().item<double>(), 2.0, 1e-5);
  // Without clipping the gradients are only unscaled.
  ps = scaled_grads(1024);
  EXPECT_NEAR(clip_grad_norm(ps, 0.0, 1.0 / 1024).item<double>(), 5.0, 1e-5);
  EXPECT_NEAR(ps[0].second.grad().item<double>(), 3.0, 1e-6);
}

TEST(LossScaler, OverflowSkipsTheStepAndHalvesTheScale) {
  LossScaler s(small_interval(), /*enabled=*/true);
  Params ps = scaled_grads(s.scale());
  ps[1].second.mutable_grad()[0] = std::numeric_limits<float>::infinity();  // injected overflow
  const double norm = clip_grad_norm(ps, 1.0, s.inv_scale()).item<double>();
  EXPECT_FALSE(std::isfinite(norm));
  EXPECT_FALSE(s.update(!std::isfinite(norm)));  // the optimizer step is skipped
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.overflows(), 1);
  EXPECT_EQ(s.good_steps(), 0);
}

TEST(LossScaler, GrowsAfterGrowthIntervalGoodStepsInARow) {
  LossScaler s(small_interval(), /*enabled=*/true);
  EXPECT_TRUE(s.update(false));
  EXPECT_TRUE(s.update(false));
  EXPECT_EQ(s.scale(), 1024.0);  // 2 of 3
  EXPECT_TRUE(s.update(false));
  EXPECT_EQ(s.scale(), 2048.0);  // the third doubles it and restarts the count
  EXPECT_EQ(s.good_steps(), 0);
  // An overflow in between restarts the count: 2 good, overflow, 2 good -> no growth.
  s.update(false);
  s.update(false);
  s.update(true);
  EXPECT_EQ(s.scale(), 1024.0);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_EQ(s.good_steps(), 2);
}

TEST(LossScaler, StateRoundTripsThroughTheCheckpointTrainerState) {
  LossScaler a(small_interval(), true);
  for (bool overflow : {false, true, false, false})
    a.update(overflow);  // scale 512, 2 good steps
  // The fields save_checkpoint writes, read back by read_trainer_state.
  testing::TempDir dir;
  fs::write_file(fs::join(dir.path(), "trainer_state.json"),
                 cat(R"({"version": 1, "step": 4, "tokens_seen": 10, "elapsed_s": 1.5, )",
                     R"("world": 1, "skipped_steps": 1, "loss_scale": )", a.scale(),
                     R"(, "loss_scale_good_steps": )", a.good_steps(), "}"));
  const TrainerState ts = read_trainer_state(dir.path());
  LossScaler b(small_interval(), true);
  b.restore(ts.loss_scale, ts.loss_scale_good_steps);
  EXPECT_EQ(b.scale(), 512.0);
  EXPECT_EQ(b.good_steps(), 2);
  // From here both evolve identically: one more good step grows both.
  EXPECT_EQ(a.update(false), b.update(false));
  EXPECT_EQ(a.scale(), 1024.0);
  EXPECT_EQ(b.scale(), a.scale());
  // A checkpoint from before fp16 support has no scaler fields: 0 = none.
  fs::write_file(fs::join(dir.path(), "trainer_state.json"),
                 R"({"version": 1, "step": 4, "tokens_seen": 10, "elapsed_s": 1.5, "world": 1})");
  EXPECT_EQ(read_trainer_state(dir.path()).loss_scale, 0.0);
  EXPECT_NE(testing::user_error_of([&] { b.restore(-1, 0); }).find("loss-scaler"),
            std::string::npos);
}

// The experiment keys, resolved as `electra pretrain` resolves them.
std::string config_error(const std::vector<std::string>& sets) {
  return testing::user_error_of([&] {
    const Config c = Config::resolve(pretrain_schema(), "", sets);
    read_pretrain_config(c, /*tokenizer_vocab_size=*/100);
  });
}

TEST(LossScaler, ConfigKeysAreValidatedWithTheirSource) {
  EXPECT_EQ(config_error({"train.precision=bf16", "amp.growth_interval=10"}), "no error");
  const std::string e = config_error({"amp.backoff=1.5"});
  EXPECT_NE(e.find("amp.backoff must be in (0, 1), got 1.5 (--set)"), std::string::npos) << e;
  EXPECT_NE(config_error({"amp.init_scale=0"}).find("amp.init_scale"), std::string::npos);
  EXPECT_NE(config_error({"amp.growth_interval=0"}).find("amp.growth_interval must be at least 1"),
            std::string::npos);
  EXPECT_NE(config_error({"amp.growth=1"}).find("amp.growth must be"), std::string::npos);
}

}  // namespace
}  // namespace electra::pretrain
