// `electra pretrain` under `mpirun -np 2`: checkpoints of a two-rank job, refusal to resume
// with another world size, and the fault paths: a rank killed (-9), a rank that hangs
// (SIGSTOP: the collective timeout ends the job), and SIGTERM (all ranks save at one step,
// exit 128 + 15, and the re-run resumes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "distributed/mpi_communicator.h"

extern char** environ;

namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process in its own process group, output to a log file; killed with its group if
// the test ends while it runs.
class Job {
 public:
  Job(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &fa, &at, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) pid_ = -1;
  }
  ~Job() {
    if (pid_ > 0 && !exited_) {
      for (pid_t c : children())
        kill(c, SIGKILL);
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(log_); }

  // Waits up to `seconds`; returns the exit status (128 + signal when killed), or -1 on timeout.
  int wait(double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  bool wait_for_log(const std::string& needle, double seconds) const {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      if (log().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The rank processes: direct children of mpirun, in pid order (not necessarily rank order).
  std::vector<pid_t> children() const {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator("/proc", ec)) {
      const std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string stat = slurp(e.path().string() + "/stat");
      const size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(stat.substr(close + 2));
      char state;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == pid_ && stat.find("(electra)") != std::string::npos)
        out.push_back(std::stoi(name));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_;
};

class DistributedPretrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!electra::dist::mpi_compiled()) GTEST_SKIP() << "built with ELECTRA_WITH_MPI=OFF";
  }

  static void SetUpTestSuite() {
    dir_ = ::testing::TempDir() + "/electra_dist_" + std::to_string(getpid());
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
    const std::string corpus = std::string(ELECTRA_TEST_DATA) + "/distributed/corpus";
    Job vocab({ELECTRA_BINARY, "vocab", "--input", corpus, "--vocab-size", "160", "--out",
               dir_ + "/spm", "--threads", "1"},
              dir_ + "/vocab.log");
    ASSERT_EQ(vocab.wait(60), 0) << vocab.log();
    std::ofstream y(dir_ + "/tiny.yaml");
    y << "model: {embedding_size: 32, hidden_size: 32, num_hidden_layers: 2, "
         "num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64}\n"
         "generator: {size_fraction: 0.5}\n"
         "data: {files: ['"
      << corpus << "'], tokenizer: '" << dir_
      << "/spm/spm.model', seq_len: 32}\n"
         "train: {steps: 12, batch_size: 8, log_every: 1, save_every: 6, seed: 7, threads: 1}\n"
         "optimizer: {lr: 1.0e-3, warmup_steps: 2}\n"
         "output: {tensorboard: false}\n"
         "dist: {timeout_s: 60, check_params_every: 1}\n";
  }

  static std::vector<std::string> mpirun(int np, const std::string& out,
                                         std::vector<std::string> sets = {}) {
    std::vector<std::string> a = {
        "mpirun",      "-np", std::to_string(np), "--oversubscribe", "--allow-run-as-root",
        ELECTRA_BINARY};
    auto rest = pretrain(out, std::move(sets));
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  }
  static std::vector<std::string> pretrain(const std::string& out, std::vector<std::string> sets) {
    std::vector<std::string> a = {"pretrain", "--config", dir_ + "/tiny.yaml", "--set",
                                  "output.dir=" + out};
    for (auto& s : sets) {
      a.push_back("--set");
      a.push_back(s);
    }
    return a;
  }

  static std::string dir_;
};
std::string DistributedPretrain::dir_;

TEST_F(DistributedPretrain, TwoRanksWriteOneCheckpointWithEveryRanksState) {
  const std::string out = dir_ + "/two";
  Job job(mpirun(2, out), dir_ + "/two.log");
  ASSERT_EQ(job.wait(90), 0) << job.log();
  const std::string log = job.log();
  EXPECT_NE(log.find("[rank 0/2] distributed: 2 ranks started by mpirun"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("[rank 1/2] step"), std::string::npos);  // only rank 0 reports progress
  const std::string ckpt = out + "/checkpoints/step-00000012";
  for (const char* f : {"COMPLETE", "rank-00000.json", "rank-00001.json", "trainer_state.json",
                        "discriminator/model.safetensors"})
    EXPECT_TRUE(stdfs::exists(ckpt + "/" + f)) << f;
  const std::string marker = slurp(ckpt + "/COMPLETE");
  EXPECT_NE(marker.find("rank-00001.json"), std::string::npos);  // in the manifest
  EXPECT_NE(slurp(ckpt + "/trainer_state.json").find("\"world\": 2"), std::string::npos);
  // Each rank read its own shard: their cursors differ.
  EXPECT_NE(slurp(ckpt + "/rank-00000.json"), slurp(ckpt + "/rank-00001.json"));
  for (const auto& e : stdfs::directory_iterator(out + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // A single process must not resume a two-rank checkpoint (the data cursors are per rank).
  std::vector<std::string> one = pretrain(out, {"train.steps=20"});
  one.insert(one.begin(), ELECTRA_BINARY);
  Job single(one, dir_ + "/one.log");
  EXPECT_EQ(single.wait(60), 2) << single.log();
  EXPECT_NE(single.log().find("was written by 2 rank(s) but this job has 1"), std::string::npos)
      << single.log();
}

TEST_F(DistributedPretrain, AKilledRankEndsTheJobWellWithinTheTimeout) {
  Job job(mpirun(2, dir_ + "/killed", {"train.steps=1000000", "train.save_every=1000000"}),
          dir_ + "/killed.log");
  ASSERT_TRUE(job.wait_for_log("step 3/", 60)) << job.log();
  const auto ranks = job.children();
  ASSERT_EQ(ranks.size(), 2u) << job.log();
  const auto t0 = Clock::now();
  kill(ranks[1], SIGKILL);
  const int rc = job.wait(30);  // dist.timeout_s is 60: the launcher, not the timeout, ends it
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(rc, -1) << "the job did not end within 30 s after a rank was killed\n" << job.log();
  EXPECT_NE(rc, 0) << job.log();
  EXPECT_LT(secs, 30);
}

TEST_F(DistributedPretrain, AHungRankEndsTheJobAfterTheCollectiveTimeout) {
  Job job(mpirun(2, dir_ + "/hung",
                 {"train.steps=1000000", "train.save_every=1000000", "dist.timeout_s=3",
                  "dist.check_params_every=0"}),
          dir_ + "/hung.log");
  ASSERT_TRUE(job.wait_for_log("step 3/", 60)) << job.log();
  const auto ranks = job.children();
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[1], SIGSTOP);  // alive but silent: nobody notices a dead process
  const int rc = job.wait(30);
  kill(ranks[1], SIGCONT);
  EXPECT_NE(rc, -1) << "the job hung\n" << job.log();
  EXPECT_NE(rc, 0);
  EXPECT_NE(job.log().find("did not complete within 3 s (dist.timeout_s)"), std::string::npos)
      << job.log();
}

TEST_F(DistributedPretrain, SigtermSavesOnEveryRankAndTheRerunResumes) {
  const std::string out = dir_ + "/sigterm";
  Job job(mpirun(2, out,
                 {"train.steps=1000000", "train.save_every=1000000", "dist.check_params_every=0"}),
          dir_ + "/sigterm.log");
  ASSERT_TRUE(job.wait_for_log("step 3/", 60)) << job.log();
  const auto ranks = job.children();
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[1], SIGTERM);  // one rank only: the flag is reduced, all ranks stop together
  const int rc = job.wait(60);
  ASSERT_EQ(rc, 128 + SIGTERM) << job.log();
  EXPECT_NE(job.log().find("received signal 15"), std::string::npos) << job.log();
  std::string saved;
  for (const auto& e : stdfs::directory_iterator(out + "/checkpoints"))
    saved = e.path().filename();
  ASSERT_EQ(saved.rfind("step-", 0), 0u) << saved;
  const int64_t step = std::stoll(saved.substr(5));
  EXPECT_GE(step, 3);
  EXPECT_TRUE(stdfs::exists(out + "/checkpoints/" + saved + "/rank-00001.json"));
  // A save that was interrupted (no COMPLETE marker) must never be resumed.
  stdfs::create_directories(out + "/checkpoints/step-99999999");
  std::ofstream(out + "/checkpoints/step-99999999/rank-00000.json") << "{}";

  Job again(mpirun(2, out, {"train.steps=" + std::to_string(step + 2)}), dir_ + "/resume.log");
  ASSERT_EQ(again.wait(90), 0) << again.log();
  EXPECT_NE(again.log().find("resuming from " + out + "/checkpoints/" + saved + " at step " +
                             std::to_string(step)),
            std::string::npos)
      << again.log();
  EXPECT_TRUE(stdfs::exists(out + "/checkpoints/step-" +
                            std::string(8 - std::to_string(step + 2).size(), '0') +
                            std::to_string(step + 2) + "/COMPLETE"));
}

}  // namespace
