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
#include "tests/support/pretrain_fixture.h"

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

  // The rank processes: the children of mpirun running the electra binary (by /proc/PID/exe:
  // electra may re-execute itself through /proc/self/exe, which renames the process "exe").
  std::vector<pid_t> children() const {
    std::vector<pid_t> out;
    std::error_code ec;
    const auto electra = stdfs::canonical(ELECTRA_BINARY, ec);
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
      std::error_code ec2;
      if (ppid == pid_ && stdfs::read_symlink(e.path() / "exe", ec2) == electra)
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
  static void SetUpTestSuite() { fx_ = new electra::testing::PretrainFixture(); }
  static void TearDownTestSuite() {
    delete fx_;
    fx_ = nullptr;
  }

  static std::string out(const std::string& name) { return fx_->dir.file(name); }

  // `electra pretrain` with the fixture's tiny experiment, then `sets` (later ones win).
  static std::vector<std::string> pretrain(const std::string& name, int steps,
                                           const std::vector<std::string>& sets) {
    std::vector<std::string> a = {ELECTRA_BINARY, "pretrain"};
    auto all = fx_->overrides(out(name), steps);
    all.insert(all.end(), {"train.log_every=1", "train.save_every=6", "output.tensorboard=false",
                           "dist.timeout_s=60", "dist.check_params_every=1"});
    all.insert(all.end(), sets.begin(), sets.end());
    for (const auto& s : all) {
      a.push_back("--set");
      a.push_back(s);
    }
    return a;
  }
  static std::vector<std::string> mpirun(int np, const std::string& name, int steps,
                                         const std::vector<std::string>& sets = {}) {
    std::vector<std::string> a = {"mpirun", "-np", std::to_string(np), "--oversubscribe",
                                  "--allow-run-as-root"};
    auto rest = pretrain(name, steps, sets);
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  }
  static std::string log(const std::string& name) { return fx_->dir.file(name + ".log"); }

  static electra::testing::PretrainFixture* fx_;
};
electra::testing::PretrainFixture* DistributedPretrain::fx_ = nullptr;

TEST_F(DistributedPretrain, TwoRanksWriteOneCheckpointWithEveryRanksState) {
  Job job(mpirun(2, "two", 12), log("two"));
  ASSERT_EQ(job.wait(90), 0) << job.log();
  const std::string text = job.log();
  EXPECT_NE(text.find("[rank 0/2] distributed: 2 ranks started by mpirun"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("[rank 1/2] step"), std::string::npos);  // only rank 0 reports progress
  const std::string ckpt = out("two") + "/checkpoints/step-00000012";
  for (const char* f : {"COMPLETE", "rank-00000.json", "rank-00001.json", "trainer_state.json",
                        "discriminator/model.safetensors"})
    EXPECT_TRUE(stdfs::exists(ckpt + "/" + f)) << f;
  EXPECT_NE(slurp(ckpt + "/COMPLETE").find("rank-00001.json"), std::string::npos);  // manifest
  EXPECT_NE(slurp(ckpt + "/trainer_state.json").find("\"world\": 2"), std::string::npos);
  // Each rank read its own shard: their cursors differ.
  EXPECT_NE(slurp(ckpt + "/rank-00000.json"), slurp(ckpt + "/rank-00001.json"));
  for (const auto& e : stdfs::directory_iterator(out("two") + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // A single process must not resume a two-rank checkpoint (the data cursors are per rank).
  Job single(pretrain("two", 20, {}), log("one"));
  EXPECT_EQ(single.wait(60), 2) << single.log();
  EXPECT_NE(single.log().find("was written by 2 rank(s) but this job has 1"), std::string::npos)
      << single.log();
}

TEST_F(DistributedPretrain, AKilledRankEndsTheJobWellWithinTheTimeout) {
  Job job(mpirun(2, "killed", 1000000, {"train.save_every=1000000"}), log("killed"));
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
  Job job(mpirun(2, "hung", 1000000,
                 {"train.save_every=1000000", "dist.timeout_s=5", "dist.check_params_every=0"}),
          log("hung"));
  ASSERT_TRUE(job.wait_for_log("step 3/", 60)) << job.log();
  const auto ranks = job.children();
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[1], SIGSTOP);  // alive but silent: the launcher sees nothing wrong
  const int rc = job.wait(30);
  kill(ranks[1], SIGCONT);
  EXPECT_NE(rc, -1) << "the job hung\n" << job.log();
  EXPECT_NE(rc, 0);
  EXPECT_NE(job.log().find("did not complete within 5 s (dist.timeout_s)"), std::string::npos)
      << job.log();
}

TEST_F(DistributedPretrain, SigtermSavesOnEveryRankAndTheRerunResumes) {
  const std::string dir = out("sigterm");
  Job job(mpirun(2, "sigterm", 1000000, {"train.save_every=1000000", "dist.check_params_every=0"}),
          log("sigterm"));
  ASSERT_TRUE(job.wait_for_log("step 3/", 60)) << job.log();
  const auto ranks = job.children();
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[1], SIGTERM);  // one rank only: the flag is reduced, all ranks stop together
  ASSERT_EQ(job.wait(60), 128 + SIGTERM) << job.log();
  EXPECT_NE(job.log().find("received signal 15"), std::string::npos) << job.log();
  std::string saved;
  for (const auto& e : stdfs::directory_iterator(dir + "/checkpoints"))
    saved = e.path().filename();
  ASSERT_EQ(saved.rfind("step-", 0), 0u) << saved;
  const int64_t step = std::stoll(saved.substr(5));
  EXPECT_GE(step, 3);
  EXPECT_TRUE(stdfs::exists(dir + "/checkpoints/" + saved + "/rank-00001.json"));
  // A save that was interrupted (no COMPLETE marker) must never be resumed.
  stdfs::create_directories(dir + "/checkpoints/step-99999999");
  std::ofstream(dir + "/checkpoints/step-99999999/rank-00000.json") << "{}";

  Job again(mpirun(2, "sigterm", static_cast<int>(step) + 2), log("resume"));
  ASSERT_EQ(again.wait(90), 0) << again.log();
  EXPECT_NE(again.log().find("resuming from " + dir + "/checkpoints/" + saved + " at step " +
                             std::to_string(step)),
            std::string::npos)
      << again.log();
  char last[32];
  std::snprintf(last, sizeof last, "step-%08d", static_cast<int>(step) + 2);
  EXPECT_TRUE(stdfs::exists(dir + "/checkpoints/" + last + "/COMPLETE"));
}

}  // namespace
