#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/fs.h"
#include "data/tokenizer.h"
#include "distributed/communicator.h"
#include "model/hf_io.h"
#include "model/safetensors.h"
#include "pretrain/checkpoint.h"
#include "pretrain/graphed_step.h"
#include "pretrain/trainer.h"
#include "tests/support/pretrain_fixture.h"

namespace electra::pretrain {
namespace {

using electra::testing::PretrainFixture;

std::string weights(const std::string& ckpt, const std::string& part) {
  return fs::read_file(ckpt + "/" + part + "/model.safetensors", "t");
}

TEST(Trainer, ShortRunLearnsAndWritesEverything) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string out = f.dir.file("learn");
  const PretrainResult r = run_pretraining(f.config(out, 60), *comm);
  EXPECT_EQ(r.step, 60);
  // Both losses fall on text with structure: the total drops by a clear margin.
  EXPECT_LT(r.last_loss, 0.8 * r.first_loss) << r.first_loss << " -> " << r.last_loss;
  // Checkpoints every 10 steps, keep_last 3.
  EXPECT_EQ(fs::list_dir(out + "/checkpoints"),
            (std::vector<std::string>{"step-00000040", "step-00000050", "step-00000060"}));
  const std::string ck = out + "/checkpoints/step-00000060";
  for (const char* p :
       {"COMPLETE", "discriminator/config.json", "discriminator/model.safetensors",
        "generator/config.json", "generator/model.safetensors", "optimizer.safetensors",
        "trainer_state.json", "rank-00000.json", "config.yaml", "tokenizer/spm.model"})
    EXPECT_TRUE(fs::exists(ck + "/" + p)) << p;
  verify_checkpoint(ck);
  // The resolved config records the vocabulary size taken from the tokenizer.
  const int64_t vocab = data::load_tokenizer(f.tokenizer, "t")->vocab_size();
  EXPECT_NE(fs::read_file(ck + "/config.yaml", "t").find("vocab_size: " + std::to_string(vocab)),
            std::string::npos);
  // Metrics: one JSON line per log step, and a TensorBoard event file.
  const std::string metrics = fs::read_file(out + "/metrics.jsonl", "t");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 12);
  EXPECT_NE(metrics.find("\"disc_acc\""), std::string::npos);
  const auto tb = fs::list_dir(out + "/tensorboard");
  ASSERT_EQ(tb.size(), 1u);
  EXPECT_EQ(tb[0].rfind("events.out.tfevents.", 0), 0u);
}

TEST(Trainer, ResumeIsBitwiseExact) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string a = f.dir.file("straight"), b = f.dir.file("stopped");
  run_pretraining(f.config(a, 30), *comm);
  // Stop after 13 steps (not a save boundary: the stop writes its own checkpoint), then
  // resume with the same command.
  const PretrainResult first =
      run_pretraining(f.config(b, 30, {"train.exit_after_steps=13"}), *comm);
  EXPECT_EQ(first.step, 13);
  EXPECT_TRUE(first.exited_early);
  const PretrainResult second = run_pretraining(f.config(b, 30), *comm);
  EXPECT_EQ(second.step, 30);
  const std::string ca = a + "/checkpoints/step-00000030", cb = b + "/checkpoints/step-00000030";
  EXPECT_EQ(weights(ca, "discriminator"), weights(cb, "discriminator"));
  EXPECT_EQ(weights(ca, "generator"), weights(cb, "generator"));
  EXPECT_EQ(fs::read_file(ca + "/optimizer.safetensors", "t"),
            fs::read_file(cb + "/optimizer.safetensors", "t"));
  // Re-running a finished job does nothing.
  EXPECT_EQ(run_pretraining(f.config(b, 30), *comm).step, 30);
}

TEST(Trainer, BatchMustDivideOverRanksAndAccumulation) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  EXPECT_THROW(run_pretraining(f.config(f.dir.file("x"), 5, {"train.grad_accum=3"}), *comm),
               UserError);
}

// CUDA graphs need a GPU: asking for them elsewhere is a user error that names the key and why,
// not a silent eager run.
TEST(Trainer, CudaGraphsOnTheCpuAreAUserError) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  try {
    run_pretraining(f.config(f.dir.file("x"), 5, {"train.cuda_graphs=true"}), *comm);
    FAIL() << "no error";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("train.cuda_graphs=true"), std::string::npos) << what;
    EXPECT_NE(what.find("CUDA"), std::string::npos) << what;
  }
  EXPECT_EQ(cuda_graphs_unsupported(at::kCPU, 1, 1, false), "CUDA graphs need train.device=cuda");
  const at::Device gpu(at::kCUDA, 0);
  if (!cuda_graphs_unsupported(gpu, 1, 1, false).empty()) return;  // a build without them
  EXPECT_NE(cuda_graphs_unsupported(gpu, 2, 1, false), "");
  EXPECT_NE(cuda_graphs_unsupported(gpu, 1, 2, false), "");
  EXPECT_NE(cuda_graphs_unsupported(gpu, 1, 1, true), "");
}

TEST(Checkpoint, RoundTripAndCorruptionDetection) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string out = f.dir.file("ck");
  run_pretraining(f.config(out, 10), *comm);
  const auto latest = latest_checkpoint(out + "/checkpoints");
  ASSERT_TRUE(latest.has_value());
  // The discriminator part is an HF directory as it is.
  const model::HfModel m = model::read_hf_model(*latest + "/discriminator");
  EXPECT_EQ(m.architecture, model::Architecture::kPreTraining);
  EXPECT_EQ(m.config.vocab_size, data::load_tokenizer(f.tokenizer, "t")->vocab_size());
  const TrainerState ts = read_trainer_state(*latest);
  EXPECT_EQ(ts.step, 10);
  EXPECT_GT(ts.tokens_seen, 0);
  const RankState rs = read_rank_state(*latest, 0);
  EXPECT_GT(rs.data.batches, 0);
  EXPECT_FALSE(rs.torch_rng.empty());

  // Flip one byte in each file in turn: the manifest catches it and names the file.
  for (const char* rel : {"discriminator/model.safetensors", "optimizer.safetensors",
                          "rank-00000.json", "tokenizer/spm.model"}) {
    const std::string path = *latest + "/" + rel;
    std::string bytes = fs::read_file(path, "t");
    bytes[bytes.size() / 2] ^= 0x01;
    fs::write_file(path, bytes);
    try {
      verify_checkpoint(*latest);
      ADD_FAILURE() << "corruption of " << rel << " went unnoticed";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(rel), std::string::npos) << e.what();
    }
    bytes[bytes.size() / 2] ^= 0x01;
    fs::write_file(path, bytes);
  }
  verify_checkpoint(*latest);
  // A directory without the COMPLETE marker is never picked.
  std::filesystem::remove(*latest + "/COMPLETE");
  EXPECT_FALSE(latest_checkpoint(out + "/checkpoints").has_value());
}

TEST(Checkpoint, ExportWritesAnHfDirectoryWithTheTokenizer) {
  PretrainFixture f;
  auto comm = dist::make_single_process_communicator();
  const std::string out = f.dir.file("exp");
  run_pretraining(f.config(out, 10), *comm);
  const std::string ck = *latest_checkpoint(out + "/checkpoints");
  export_checkpoint(ck, f.dir.file("hf-gen"), "generator");
  const model::HfModel g = model::read_hf_model(f.dir.file("hf-gen"));
  EXPECT_EQ(g.architecture, model::Architecture::kMaskedLM);
  EXPECT_EQ(g.config.hidden_size, 16);                        // 0.5 x 32
  EXPECT_FALSE(g.tensors.count("generator_lm_head.weight"));  // tied, as HF saves it
  EXPECT_TRUE(g.tensors.count("electra.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(fs::exists(f.dir.file("hf-gen/spm.model")));
  EXPECT_THROW(export_checkpoint(ck, f.dir.file("bad"), "both"), UserError);
}

}  // namespace
}  // namespace electra::pretrain
