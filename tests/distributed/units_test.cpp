// Pieces of distributed/ that need no second process: count splitting, launcher detection,
// CPU shares, the communication queue (order, timeout, failure), the single-process
// communicator.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <map>
#include <thread>

#include "distributed/chunks.h"
#include "distributed/collective_queue.h"
#include "distributed/cpu_binding.h"
#include "distributed/launch_env.h"

namespace electra::dist {
namespace {

TEST(SplitCount, CoversTheRangeWithPiecesOfAtMostMax) {
  EXPECT_TRUE(split_count(0, 7).empty());
  auto p = split_count(7, 7);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].offset, 0);
  EXPECT_EQ(p[0].count, 7);
  p = split_count(23, 7);  // 7 + 7 + 7 + 2
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[3].offset, 21);
  EXPECT_EQ(p[3].count, 2);
  p = split_count(5, 1);
  ASSERT_EQ(p.size(), 5u);
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_EQ(p[static_cast<size_t>(i)].offset, i);
}

TEST(SplitCount, DefaultMaximumIsIntMax) {
  const int64_t n = 2 * static_cast<int64_t>(INT_MAX) + 5;
  const auto p = split_count(n);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].count, INT_MAX);
  EXPECT_EQ(p[1].offset, INT_MAX);
  EXPECT_EQ(p[2].offset, 2 * static_cast<int64_t>(INT_MAX));
  EXPECT_EQ(p[2].count, 5);
  EXPECT_EQ(split_count(INT_MAX).size(), 1u);
  EXPECT_EQ(split_count(static_cast<int64_t>(INT_MAX) + 1).size(), 2u);
}

TEST(SplitCount, RejectsNonsense) {
  EXPECT_THROW(split_count(-1, 4), std::runtime_error);
  EXPECT_THROW(split_count(10, 0), std::runtime_error);
}

LaunchEnv detect(const std::map<std::string, std::string>& env) {
  return detect_launch([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnv, NoLauncherVariablesMeansNotLaunched) {
  EXPECT_FALSE(detect({}).launched());
  EXPECT_FALSE(detect({{"HOME", "/root"}, {"SLURM_JOB_ID", "12"}}).launched());
  // sbatch's batch step: SLURM_PROCID without a multi-task step.
  EXPECT_FALSE(detect({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}}).launched());
  EXPECT_FALSE(detect({{"SLURM_STEP_NUM_TASKS", "1"}, {"SLURM_PROCID", "0"}}).launched());
}

TEST(LaunchEnv, RecognisesEachLauncher) {
  auto e = detect({{"OMPI_COMM_WORLD_SIZE", "8"}, {"OMPI_COMM_WORLD_RANK", "3"}});
  EXPECT_EQ(e.launcher, "mpirun (Open MPI)");
  EXPECT_EQ(e.size, 8);
  EXPECT_EQ(e.rank, 3);
  e = detect({{"PMI_SIZE", "4"}, {"PMI_RANK", "1"}});
  EXPECT_EQ(e.launcher, "mpiexec (PMI)");
  EXPECT_EQ(e.size, 4);
  e = detect({{"PMIX_RANK", "5"}});
  EXPECT_EQ(e.launcher, "PMIx launcher");
  EXPECT_EQ(e.size, 0);  // PMIx does not say
  EXPECT_EQ(e.rank, 5);
  e = detect({{"SLURM_STEP_NUM_TASKS", "64"}, {"SLURM_PROCID", "17"}, {"PMIX_RANK", "17"}});
  EXPECT_EQ(e.launcher, "srun (PMIx)");
  EXPECT_EQ(e.size, 64);
  EXPECT_EQ(e.rank, 17);
  e = detect({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "1"}, {"PMI_RANK", "1"}});
  EXPECT_EQ(e.launcher, "srun (PMI)");
  // A malformed size is "not said", not a crash.
  e = detect({{"OMPI_COMM_WORLD_SIZE", "eight"}});
  EXPECT_TRUE(e.launched());
  EXPECT_EQ(e.size, 0);
}

TEST(CpuShare, SplitsContiguouslyAndEvenly) {
  const std::vector<int> cpus = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  // 10 CPUs over 3 ranks: 4 + 3 + 3.
  EXPECT_EQ(cpu_share(cpus, 0, 3), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(cpu_share(cpus, 1, 3), (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(cpu_share(cpus, 2, 3), (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(cpu_share(cpus, 0, 1), cpus);
  // More ranks than CPUs: one CPU each, round-robin, never empty.
  const std::vector<int> two = {4, 6};
  EXPECT_EQ(cpu_share(two, 0, 3), (std::vector<int>{4}));
  EXPECT_EQ(cpu_share(two, 2, 3), (std::vector<int>{4}));
  EXPECT_THROW(cpu_share(two, 3, 3), std::runtime_error);
}

TEST(CpuShare, ListString) {
  EXPECT_EQ(cpu_list_string({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(cpu_list_string({}), "");
  EXPECT_FALSE(allowed_cpus().empty());
}

// An op that completes after `polls` calls to test().
CollectiveQueue::Op counting_op(std::string what, std::vector<std::string>* log, int polls) {
  auto left = std::make_shared<int>(polls);
  CollectiveQueue::Op o;
  o.what = what;
  o.start = [log, what] { log->push_back("start " + what); };
  o.test = [left] { return --*left <= 0; };
  o.finish = [log, what] { log->push_back("finish " + what); };
  return o;
}

TEST(CollectiveQueue, RunsOpsInSubmissionOrder) {
  std::vector<std::string> log;  // touched only by the queue's thread until the waits return
  {
    CollectiveQueue q("rank 0/1", 10, nullptr);
    auto a = q.submit(counting_op("a", &log, 50));
    auto b = q.submit(counting_op("b", &log, 1));
    auto c = q.submit(counting_op("c", &log, 3));
    c->wait();
    EXPECT_TRUE(a->done());
    EXPECT_TRUE(b->done());
  }
  EXPECT_EQ(log, (std::vector<std::string>{"start a", "finish a", "start b", "finish b", "start c",
                                           "finish c"}));
}

TEST(CollectiveQueue, TimeoutReportsTheOpAndFailsLaterOps) {
  std::string reported;
  std::atomic<int> calls{0};
  CollectiveQueue q("rank 1/2", 0.2, [&](const std::string& m) {
    reported = m;
    ++calls;
  });
  std::vector<std::string> log;
  CollectiveQueue::Op stuck = counting_op("all_reduce(avg, 10 x float)", &log, INT_MAX);
  const auto t0 = std::chrono::steady_clock::now();
  auto w = q.submit(stuck);
  try {
    w->wait();
    FAIL() << "expected a timeout";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("all_reduce(avg, 10 x float)"), std::string::npos) << m;
    EXPECT_NE(m.find("rank 1/2"), std::string::npos) << m;
    EXPECT_NE(m.find("dist.timeout_s"), std::string::npos) << m;
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.0);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(reported.find("did not complete within 0.2 s"), std::string::npos) << reported;
  // The communicator is broken now: later ops fail at once, without running.
  auto later = q.submit(counting_op("barrier", &log, 1));
  EXPECT_THROW(later->wait(), std::runtime_error);
  EXPECT_EQ(log, (std::vector<std::string>{"start all_reduce(avg, 10 x float)"}));
}

TEST(CollectiveQueue, AnErrorInAnOpReachesTheWaiter) {
  int calls = 0;
  CollectiveQueue q("rank 0/2", 10, [&](const std::string&) { ++calls; });
  CollectiveQueue::Op o;
  o.what = "broadcast(3 x float, root 0)";
  o.start = [] { throw std::runtime_error("MPI call MPI_Ibcast(...) failed on rank 0"); };
  o.test = [] { return true; };
  auto w = q.submit(o);
  try {
    w->wait();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Ibcast"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("broadcast(3 x float, root 0)"), std::string::npos);
  }
  EXPECT_EQ(calls, 1);
}

TEST(SingleProcess, CollectivesAreTheIdentity) {
  auto c = make_single_process_communicator();
  EXPECT_EQ(c->world_size(), 1);
  EXPECT_EQ(c->backend(), "single");
  EXPECT_GE(c->info().cores, 1);
  at::Tensor t = at::arange(5, at::kFloat);
  c->all_reduce(t, ReduceOp::kAvg);
  EXPECT_TRUE(t.equal(at::arange(5, at::kFloat)));
  auto w = c->all_reduce_async(t, ReduceOp::kSum);
  EXPECT_TRUE(w->done());
  EXPECT_EQ(c->all_gather(std::string("x")), std::vector<std::string>{"x"});
  EXPECT_EQ(c->all_gather(int64_t{7}), std::vector<int64_t>{7});
}

}  // namespace
}  // namespace electra::dist
