// The MPI communicator between processes (ctest runs 2; the tests hold for any number): every
// collective, dtype and size class, against values each rank computes for all ranks.
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

// The expected reduction over all ranks, computed in fp32 for bf16/fp16, in dtype `dt`.
at::Tensor reduced(ReduceOp op, int64_t n, at::ScalarType dt) {
  const at::ScalarType acc = (dt == at::kBFloat16 || dt == at::kHalf) ? at::kFloat : dt;
  at::Tensor r = contribution(0, n, dt).to(acc);
  for (int k = 1; k < world().world_size(); ++k) {
    const at::Tensor c = contribution(k, n, dt).to(acc);
    r = op == ReduceOp::kMax ? at::maximum(r, c) : op == ReduceOp::kMin ? at::minimum(r, c) : r + c;
  }
  if (op == ReduceOp::kAvg) r = r / world().world_size();
  return r.to(dt);
}

TEST(MpiCommunicator, KnowsWhoItIs) {
  ELECTRA_NEED_TWO_RANKS();
  const ProcessInfo& me = world().info();
  EXPECT_EQ(me.local_size, me.world);  // one node
  EXPECT_EQ(me.local_rank, me.rank);
  EXPECT_GE(me.cores, 1);
  EXPECT_EQ(world().backend(), "mpi");
  EXPECT_TRUE(detect_launch().launched());
}

TEST(MpiCommunicator, AllReduceEveryOpOnUnevenSizes) {
  ELECTRA_NEED_TWO_RANKS();
  // 100003 floats (400 KB) take the ring path, the others MPI_Iallreduce.
  for (int64_t n : {1, 7, 1000, 100003}) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
      at::Tensor t = contribution(world().rank(), n, at::kFloat);
      world().all_reduce(t, op);
      EXPECT_TRUE(t.equal(reduced(op, n, at::kFloat))) << reduce_op_name(op) << " n=" << n;
    }
  }
}

TEST(MpiCommunicator, AllReduceIntegersAndDoubles) {
  ELECTRA_NEED_TWO_RANKS();
  for (auto dt : {at::kLong, at::kInt, at::kDouble}) {
    for (int64_t n : {333, 70001}) {  // MPI_Iallreduce and ring
      at::Tensor t = contribution(world().rank(), n, dt);
      world().all_reduce(t, ReduceOp::kSum);
      EXPECT_TRUE(t.equal(reduced(ReduceOp::kSum, n, dt))) << dt << " n=" << n;
    }
  }
  at::Tensor big = at::full({3}, int64_t{1} << 40, at::kLong) * (world().rank() + 1);
  world().all_reduce(big, ReduceOp::kMax);
  EXPECT_EQ(big[0].item<int64_t>(), (int64_t{1} << 40) * world().world_size());
  at::Tensor i = at::ones({2}, at::kInt);
  EXPECT_THROW(world().all_reduce_async(i, ReduceOp::kAvg), std::runtime_error);
}

TEST(MpiCommunicator, HalfPrecisionIsReducedInFp32) {
  ELECTRA_NEED_TWO_RANKS();
  for (auto dt : {at::kBFloat16, at::kHalf}) {
    for (int64_t n : {4099, 200001}) {  // MPI_Iallreduce and ring (after widening)
      // The fp32 average of the dtype's values, rounded once.
      at::Tensor t = contribution(world().rank(), n, dt);
      world().all_reduce(t, ReduceOp::kAvg);
      EXPECT_EQ(t.scalar_type(), dt);
      EXPECT_TRUE(t.equal(reduced(ReduceOp::kAvg, n, dt))) << dt << " n=" << n;
    }
  }
}

TEST(MpiCommunicator, NonContiguousTensorsAreReducedInPlace) {
  ELECTRA_NEED_TWO_RANKS();
  at::Tensor base = contribution(world().rank(), 60, at::kFloat).view({6, 10});
  at::Tensor view = base.t();  // [10, 6], not contiguous
  ASSERT_FALSE(view.is_contiguous());
  world().all_reduce(view, ReduceOp::kSum);
  EXPECT_TRUE(base.equal(reduced(ReduceOp::kSum, 60, at::kFloat).view({6, 10})));
}

TEST(MpiCommunicator, CountsAboveTheLimitAreSplitIntoSeveralCalls) {
  ELECTRA_NEED_TWO_RANKS();
  // max_count 7 stands in for INT_MAX: 1001 elements go as 143 MPI_Iallreduce calls, or as
  // 7-element messages per ring segment; both paths are taken.
  for (int64_t ring_min : {int64_t{0}, int64_t{1} << 40}) {
    MpiOptions o;
    o.max_count = 7;
    o.ring_min_bytes = ring_min;
    o.timeout_s = 60;
    auto small = make_mpi_communicator(detect_launch(), o);
    for (int64_t n : {1, 1001}) {
      for (ReduceOp op : {ReduceOp::kAvg, ReduceOp::kMin}) {
        at::Tensor t = contribution(small->rank(), n, at::kFloat);
        small->all_reduce(t, op);
        EXPECT_TRUE(t.equal(reduced(op, n, at::kFloat))) << n << " ring_min " << ring_min;
      }
    }
    at::Tensor bf = contribution(small->rank(), 50, at::kBFloat16);
    small->all_reduce(bf, ReduceOp::kSum);
    EXPECT_TRUE(bf.equal(reduced(ReduceOp::kSum, 50, at::kBFloat16)));
    at::Tensor bytes = at::full({33}, small->rank() == 1 ? 9.0 : 0.0, at::kDouble);  // 264 B
    small->broadcast(bytes, 1);
    EXPECT_TRUE(bytes.equal(at::full({33}, 9.0, at::kDouble)));
  }
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
  const int r = world().rank(), w = world().world_size();
  auto text = [](int k) { return k == 0 ? std::string() : std::string(k, 'x') + '\0' + "end"; };
  const auto ints = world().all_gather(int64_t{10 + r});
  const auto reals = world().all_gather(0.5 * r);
  const auto texts = world().all_gather(text(r));
  ASSERT_EQ(static_cast<int>(texts.size()), w);
  for (int k = 0; k < w; ++k) {
    EXPECT_EQ(ints[static_cast<size_t>(k)], 10 + k);
    EXPECT_EQ(reals[static_cast<size_t>(k)], 0.5 * k);
    EXPECT_EQ(texts[static_cast<size_t>(k)], text(k));  // the embedded NUL survives
  }
  world().barrier();
}

TEST(MpiCommunicator, AsyncReductionsCompleteInIssueOrder) {
  ELECTRA_NEED_TWO_RANKS();
  std::vector<at::Tensor> ts;
  std::vector<std::unique_ptr<Work>> works;
  for (int k = 0; k < 10; ++k) {  // 4 KB .. 400 KB: both paths, interleaved
    ts.push_back(contribution(world().rank(), 10000 * k + 1000, at::kFloat));
    works.push_back(world().all_reduce_async(ts.back(), ReduceOp::kSum));
  }
  works.back()->wait();  // the last one done means every earlier one is too
  for (auto& w : works)
    EXPECT_TRUE(w->done());
  for (int k = 9; k >= 0; --k) {
    works[static_cast<size_t>(k)]->wait();
    EXPECT_TRUE(
        ts[static_cast<size_t>(k)].equal(reduced(ReduceOp::kSum, 10000 * k + 1000, at::kFloat)));
  }
}

}  // namespace
}  // namespace electra::dist
