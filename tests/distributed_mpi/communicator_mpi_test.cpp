// The MPI communicator between two processes: every collective, dtype and size class, against
// values each rank computes for both ranks.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "distributed/launch_env.h"
#include "distributed/mpi_communicator.h"
#include "tests/distributed_mpi/world.h"

namespace electra::dist {
namespace {

using mpi_test::world;

// What rank `r` contributes: distinct per rank and element, exact in fp32.
at::Tensor contribution(int r, int64_t n, at::ScalarType dt) {
  return (at::arange(n, at::kDouble).remainder(97) * (r + 1) - 40 * r).to(dt);
}

TEST(MpiCommunicator, KnowsWhoItIs) {
  ELECTRA_NEED_TWO_RANKS();
  const ProcessInfo& me = world().info();
  EXPECT_EQ(me.world, 2);
  EXPECT_EQ(me.local_size, 2);        // one node
  EXPECT_EQ(me.local_rank, me.rank);  // ranks are numbered by node first
  EXPECT_GE(me.cores, 1);
  EXPECT_EQ(world().backend(), "mpi");
  EXPECT_TRUE(detect_launch().launched());
}

TEST(MpiCommunicator, AllReduceEveryOpOnUnevenSizes) {
  ELECTRA_NEED_TWO_RANKS();
  for (int64_t n : {1, 7, 1000, 100003}) {
    const at::Tensor a = contribution(0, n, at::kFloat), b = contribution(1, n, at::kFloat);
    const std::pair<ReduceOp, at::Tensor> cases[] = {{ReduceOp::kSum, a + b},
                                                     {ReduceOp::kAvg, (a + b) / 2},
                                                     {ReduceOp::kMax, at::maximum(a, b)},
                                                     {ReduceOp::kMin, at::minimum(a, b)}};
    for (const auto& [op, expected] : cases) {
      at::Tensor t = contribution(world().rank(), n, at::kFloat);
      world().all_reduce(t, op);
      EXPECT_TRUE(t.equal(expected)) << reduce_op_name(op) << " n=" << n;
    }
  }
}

TEST(MpiCommunicator, AllReduceIntegersAndDoubles) {
  ELECTRA_NEED_TWO_RANKS();
  for (auto dt : {at::kLong, at::kInt, at::kDouble}) {
    at::Tensor t = contribution(world().rank(), 333, dt);
    world().all_reduce(t, ReduceOp::kSum);
    EXPECT_TRUE(t.equal(contribution(0, 333, dt) + contribution(1, 333, dt))) << dt;
  }
  at::Tensor big = at::full({3}, int64_t{1} << 40, at::kLong) * (world().rank() + 1);
  world().all_reduce(big, ReduceOp::kMax);
  EXPECT_EQ(big[0].item<int64_t>(), int64_t{2} << 40);
  at::Tensor i = at::ones({2}, at::kInt);
  EXPECT_THROW(world().all_reduce_async(i, ReduceOp::kAvg), std::runtime_error);
}

TEST(MpiCommunicator, HalfPrecisionIsReducedInFp32) {
  ELECTRA_NEED_TWO_RANKS();
  for (auto dt : {at::kBFloat16, at::kHalf}) {
    // Fractions that fp32 sums exactly; the result is fp32's, rounded once.
    const int64_t n = 4099;
    auto mine = [&](int r) { return (at::arange(n, at::kFloat) / 1024 + r * 0.3).to(dt); };
    at::Tensor t = mine(world().rank());
    world().all_reduce(t, ReduceOp::kAvg);
    const at::Tensor expected = ((mine(0).to(at::kFloat) + mine(1).to(at::kFloat)) / 2).to(dt);
    EXPECT_EQ(t.scalar_type(), dt);
    EXPECT_TRUE(t.equal(expected)) << dt;
  }
}

TEST(MpiCommunicator, NonContiguousTensorsAreReducedInPlace) {
  ELECTRA_NEED_TWO_RANKS();
  at::Tensor base = contribution(world().rank(), 60, at::kFloat).view({6, 10});
  at::Tensor view = base.t();  // [10, 6], not contiguous
  ASSERT_FALSE(view.is_contiguous());
  world().all_reduce(view, ReduceOp::kSum);
  const at::Tensor expected =
      (contribution(0, 60, at::kFloat) + contribution(1, 60, at::kFloat)).view({6, 10});
  EXPECT_TRUE(base.equal(expected));
}

TEST(MpiCommunicator, CountsAboveTheLimitAreSplitIntoSeveralCalls) {
  ELECTRA_NEED_TWO_RANKS();
  MpiOptions o;
  o.max_count = 7;  // stands in for INT_MAX: 1000 elements go as 143 calls
  o.timeout_s = 60;
  auto small = make_mpi_communicator(detect_launch(), o);
  at::Tensor t = contribution(small->rank(), 1000, at::kFloat);
  small->all_reduce(t, ReduceOp::kAvg);
  EXPECT_TRUE(t.equal((contribution(0, 1000, at::kFloat) + contribution(1, 1000, at::kFloat)) / 2));
  at::Tensor bf = contribution(small->rank(), 50, at::kBFloat16);
  small->all_reduce(bf, ReduceOp::kSum);
  EXPECT_TRUE(bf.equal(
      (contribution(0, 50, at::kFloat) + contribution(1, 50, at::kFloat)).to(at::kBFloat16)));
  at::Tensor bytes = at::full({33}, small->rank() == 1 ? 9.0 : 0.0, at::kDouble);  // 264 bytes
  small->broadcast(bytes, 1);
  EXPECT_TRUE(bytes.equal(at::full({33}, 9.0, at::kDouble)));
}

TEST(MpiCommunicator, BroadcastFromEitherRoot) {
  ELECTRA_NEED_TWO_RANKS();
  for (int root : {0, 1}) {
    for (auto dt : {at::kFloat, at::kBFloat16, at::kLong}) {
      at::Tensor t = contribution(world().rank(), 517, dt);
      world().broadcast(t, root);
      EXPECT_TRUE(t.equal(contribution(root, 517, dt))) << "root " << root << " " << dt;
    }
  }
  at::Tensor strided = contribution(world().rank(), 40, at::kFloat).view({4, 10}).narrow(1, 2, 5);
  world().broadcast(strided, 1);
  EXPECT_TRUE(strided.equal(contribution(1, 40, at::kFloat).view({4, 10}).narrow(1, 2, 5)));
}

TEST(MpiCommunicator, AllGatherSmallValues) {
  ELECTRA_NEED_TWO_RANKS();
  const int r = world().rank();
  EXPECT_EQ(world().all_gather(int64_t{10 + r}), (std::vector<int64_t>{10, 11}));
  EXPECT_EQ(world().all_gather(0.5 * r), (std::vector<double>{0.0, 0.5}));
  const std::string mine = r == 0 ? std::string() : std::string("rank one says \0 hello", 21);
  const auto all = world().all_gather(mine);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "");
  EXPECT_EQ(all[1], std::string("rank one says \0 hello", 21));
  world().barrier();
}

TEST(MpiCommunicator, AsyncReductionsCompleteInIssueOrder) {
  ELECTRA_NEED_TWO_RANKS();
  std::vector<at::Tensor> ts;
  std::vector<std::unique_ptr<Work>> works;
  for (int k = 0; k < 10; ++k) {
    ts.push_back(contribution(world().rank(), 1000 * (k + 1), at::kFloat));
    works.push_back(world().all_reduce_async(ts.back(), ReduceOp::kSum));
  }
  works.back()->wait();  // the last one done means every earlier one is too
  for (auto& w : works)
    EXPECT_TRUE(w->done());
  for (int k = 9; k >= 0; --k) {
    works[static_cast<size_t>(k)]->wait();
    const int64_t n = 1000 * (k + 1);
    EXPECT_TRUE(ts[static_cast<size_t>(k)].equal(contribution(0, n, at::kFloat) +
                                                 contribution(1, n, at::kFloat)));
  }
}

}  // namespace
}  // namespace electra::dist
