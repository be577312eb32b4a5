// Fault handling of the trainer and its checkpoints: non-finite steps under both
// train.on_nonfinite policies, and corruption of every file of a checkpoint (detected by the
// checksums recorded at save time, reported with the file's name). The kill -9, dead-rank and
// full-disk scenarios need whole processes and mounts: tests/faults/*.sh.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "distributed/communicator.h"
#include "model/safetensors.h"
#include "pretrain/checkpoint.h"
#include "pretrain/trainer.h"
#include "tests/support/pretrain_fixture.h"
#include "tests/support/user_error.h"

namespace electra::pretrain {
namespace {

using electra::testing::PretrainFixture;
using electra::testing::user_error_of;
using nlohmann::json;

// Sets ELECTRA_FAULT_NONFINITE_STEPS for one scope.
struct PoisonSteps {
  explicit PoisonSteps(const char* steps) { setenv("ELECTRA_FAULT_NONFINITE_STEPS", steps, 1); }
  ~PoisonSteps() { unsetenv("ELECTRA_FAULT_NONFINITE_STEPS"); }
};

bool all_finite(const std::string& safetensors_path) {
  for (const auto& [name, t] : model::read_safetensors(safetensors_path).tensors)
    if (t.is_floating_point() && !at::isfinite(t).all().item<bool>()) return false;
  return true;
}

// train.wait_each_step: false (the default) judges each norm one step late, the update
// dropped by AdamW's skip flag; true judges it at once. The verdicts are the same.
void skip_policy_drops_the_updates_counts_them_and_goes_on(bool wait_each_step) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string out = f.dir.file("skip");
  // Step 10 is the last: its verdict must reach the final checkpoint and metrics line.
  PoisonSteps poison("3,4,8,10");
  const PretrainResult r = run_pretraining(
      f.config(out, 10,
               {std::string("train.wait_each_step=") + (wait_each_step ? "true" : "false")}),
      *comm);
  EXPECT_EQ(r.step, 10);
  EXPECT_EQ(r.skipped_steps, 4);
  const std::string ck = out + "/checkpoints/step-00000010";
  EXPECT_TRUE(all_finite(ck + "/discriminator/model.safetensors"));
  EXPECT_TRUE(all_finite(ck + "/generator/model.safetensors"));
  EXPECT_TRUE(all_finite(ck + "/optimizer.safetensors"));
  EXPECT_EQ(read_trainer_state(ck).skipped_steps, 4);
  // Metrics: log_every=5, so steps 3 and 4 fall in the first window, 8 and 10 in the second.
  std::istringstream metrics(fs::read_file(out + "/metrics.jsonl", "t"));
  std::vector<json> recs;
  for (std::string line; std::getline(metrics, line);)
    recs.push_back(json::parse(line));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["skipped_steps"], 2);
  EXPECT_EQ(recs[1]["skipped_steps"], 2);
  EXPECT_EQ(recs[1]["skipped_steps_total"], 4);
}

TEST(NonFinite, SkipPolicyDropsTheUpdatesCountsThemAndGoesOn) {
  skip_policy_drops_the_updates_counts_them_and_goes_on(/*wait_each_step=*/false);
}

TEST(NonFinite, SkipPolicyGivesTheSameVerdictsWaitingEachStep) {
  skip_policy_drops_the_updates_counts_them_and_goes_on(/*wait_each_step=*/true);
}

TEST(NonFinite, SkippedStepsLeaveTheWeightsUntouched) {
  // With step 6 poisoned, the weights after step 6 equal those after step 5: no update, and no
  // NaN leaks into the AdamW moments either (they are compared too).
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string a = f.dir.file("a"), b = f.dir.file("b");
  // Same train.steps (the schedule depends on it); each run stops, with a checkpoint, after
  // its own number of steps.
  run_pretraining(f.config(a, 10, {"train.exit_after_steps=5"}), *comm);
  {
    PoisonSteps poison("6");
    run_pretraining(f.config(b, 10, {"train.exit_after_steps=6"}), *comm);
  }
  const std::string c5 = a + "/checkpoints/step-00000005", c6 = b + "/checkpoints/step-00000006";
  for (const char* rel : {"/discriminator/model.safetensors", "/generator/model.safetensors"})
    EXPECT_EQ(fs::read_file(c5 + rel, "t"), fs::read_file(c6 + rel, "t")) << rel;
  const auto m5 = model::read_safetensors(c5 + "/optimizer.safetensors").tensors;
  const auto m6 = model::read_safetensors(c6 + "/optimizer.safetensors").tensors;
  ASSERT_EQ(m5.size(), m6.size());
  for (const auto& [name, t] : m5)
    EXPECT_TRUE(at::equal(t, m6.at(name))) << name;
}

TEST(NonFinite, ResumeAfterASkippedStepIsBitwiseExact) {
  // Step 3's update is dropped, so after step 6 AdamW has applied 5 updates, not 6: a resume
  // must take its bias corrections from 5, as the uninterrupted run does.
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string a = f.dir.file("straight"), b = f.dir.file("stopped");
  PoisonSteps poison("3");
  run_pretraining(f.config(a, 10), *comm);
  EXPECT_EQ(run_pretraining(f.config(b, 10, {"train.exit_after_steps=6"}), *comm).step, 6);
  EXPECT_EQ(run_pretraining(f.config(b, 10), *comm).skipped_steps, 1);
  const std::string ca = a + "/checkpoints/step-00000010", cb = b + "/checkpoints/step-00000010";
  for (const char* rel : {"/discriminator/model.safetensors", "/generator/model.safetensors",
                          "/optimizer.safetensors"})
    EXPECT_TRUE(fs::read_file(ca + rel, "t") == fs::read_file(cb + rel, "t")) << rel;
}

TEST(NonFinite, StopPolicyEndsTheRunAtTheFirstNonFiniteStep) {
  for (const char* wait : {"train.wait_each_step=false", "train.wait_each_step=true"}) {
    SCOPED_TRACE(wait);
    PretrainFixture f;
    auto comm = dist::make_single_process_communicator();
    const std::string out = f.dir.file("stop");
    PoisonSteps poison("3");
    const std::string msg = user_error_of([&] {
      run_pretraining(
          f.config(out, 10,
                   {"train.on_nonfinite=stop", "train.save_every=2", "train.keep_last=5", wait}),
          *comm);
    });
    EXPECT_NE(msg.find("step 3: the gradient norm is nan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train.on_nonfinite=stop"), std::string::npos) << msg;
    // The last checkpoint is the one before the bad step, complete and finite.
    const auto latest = latest_checkpoint(out + "/checkpoints");
    ASSERT_TRUE(latest.has_value());
    EXPECT_EQ(std::filesystem::path(*latest).filename(), "step-00000002");
    verify_checkpoint(*latest);
    EXPECT_TRUE(all_finite(*latest + "/discriminator/model.safetensors"));
  }
}

TEST(NonFinite, TenInARowStopEvenUnderTheSkipPolicy) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  PoisonSteps poison("2,3,4,5,6,7,8,9,10,11");
  const std::string msg =
      user_error_of([&] { run_pretraining(f.config(f.dir.file("d"), 20), *comm); });
  EXPECT_NE(msg.find("10 consecutive steps had non-finite gradients"), std::string::npos) << msg;
}

TEST(NonFinite, PolicyValuesAreChecked) {
  PretrainFixture f;
  const std::string msg =
      user_error_of([&] { f.config(f.dir.file("x"), 5, {"train.on_nonfinite=ignore"}); });
  EXPECT_NE(msg.find("train.on_nonfinite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("skip"), std::string::npos) << msg;
}

// Every file of a checkpoint, COMPLETE included, with a byte flipped at its start, middle and
// end: verify_checkpoint and a resume both refuse it, naming the file.
TEST(CheckpointCorruption, EveryFlippedByteOfEveryFileIsCaughtAndNamed) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string out = f.dir.file("ck");
  run_pretraining(f.config(out, 10), *comm);
  const std::string ck = *latest_checkpoint(out + "/checkpoints");
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ck))
    if (e.is_regular_file()) files.push_back(std::filesystem::relative(e.path(), ck).string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"COMPLETE", "config.yaml", "discriminator/config.json",
                                             "discriminator/model.safetensors",
                                             "generator/config.json", "generator/model.safetensors",
                                             "optimizer.safetensors", "rank-00000.json",
                                             "tokenizer/spm.model", "trainer_state.json"}));
  int flips = 0;
  for (const auto& rel : files) {
    const std::string path = ck + "/" + rel;
    const std::string good = fs::read_file(path, "t");
    for (size_t at : {size_t{0}, good.size() / 2, good.size() - 1}) {
      std::string bad = good;
      bad[at] ^= 0x20;
      fs::write_file(path, bad);
      const std::string msg = user_error_of([&] { verify_checkpoint(ck); });
      EXPECT_NE(msg.find(rel), std::string::npos) << rel << " byte " << at << ": " << msg;
      ++flips;
    }
    // A truncated file is reported as such.
    fs::write_file(path, good.substr(0, good.size() - 1));
    const std::string msg = user_error_of([&] { verify_checkpoint(ck); });
    EXPECT_NE(msg.find(rel), std::string::npos) << msg;
    if (rel != "COMPLETE") {
      EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    }
    fs::write_file(path, good);
  }
  EXPECT_EQ(flips, 3 * static_cast<int>(files.size()));
  verify_checkpoint(ck);
  // A resume meets the same check before it loads anything.
  const std::string opt = ck + "/optimizer.safetensors";
  std::string bytes = fs::read_file(opt, "t");
  bytes[bytes.size() / 3] ^= 0x01;
  fs::write_file(opt, bytes);
  const std::string msg = user_error_of([&] { run_pretraining(f.config(out, 20), *comm); });
  EXPECT_NE(msg.find("optimizer.safetensors' fails its CRC32C check"), std::string::npos) << msg;
}

TEST(CheckpointCorruption, ManifestEntriesCannotLeaveTheCheckpoint) {
  electra::testing::TempDir dir;
  dir.write("ck/config.yaml", "x: 1\n");
  for (const char* rel : {"../outside.txt", "/etc/passwd", "a/../../b", ""}) {
    const json m = {{"version", 1}, {"files", {{rel, {{"bytes", 1}, {"crc32c", 0}}}}}};
    dir.write("ck/COMPLETE", m.dump());
    const std::string msg = user_error_of([&] { verify_checkpoint(dir.file("ck")); });
    EXPECT_NE(msg.find("points outside the checkpoint"), std::string::npos) << rel << ": " << msg;
  }
  // A manifest whose entries are not objects is corrupt, not an internal error.
  dir.write("ck/COMPLETE", R"({"files": {"config.yaml": 5}})");
  EXPECT_NE(user_error_of([&] { verify_checkpoint(dir.file("ck")); }).find("corrupt checkpoint"),
            std::string::npos);
  // Directory names that only look like steps are skipped, not a crash.
  std::filesystem::create_directories(dir.file("cks/step-999999999999999999999"));
  EXPECT_FALSE(latest_checkpoint(dir.file("cks")).has_value());
}

TEST(CheckpointCorruption, LeftoversOfInterruptedSavesAndDeletionsAreCleanedUp) {
  electra::testing::TempDir dir;
  dir.write("cks/step-00000004/COMPLETE", "{}");
  dir.write("cks/step-00000002/config.yaml", "x: 1\n");  // a deletion cut short
  dir.write("cks/step-00000006.tmp/optimizer.safetensors", "");
  dir.write("cks/step-00000004.old-prune/config.yaml", "");
  dir.write("cks/notes.txt", "kept");
  remove_stale_staging(dir.file("cks"));
  EXPECT_EQ(fs::list_dir(dir.file("cks")),
            (std::vector<std::string>{"notes.txt", "step-00000004"}));
  // Pruning leaves complete checkpoints or nothing.
  dir.write("cks/step-00000008/COMPLETE", "{}");
  prune_checkpoints(dir.file("cks"), 1);
  EXPECT_EQ(fs::list_dir(dir.file("cks")),
            (std::vector<std::string>{"notes.txt", "step-00000008"}));
}

}  // namespace
}  // namespace electra::pretrain
