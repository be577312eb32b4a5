// GradientReducer against a fake two-rank communicator whose "other rank" contributes zero
// gradients: the sum over ranks of the pre-scaled (halved) gradients is then half the local
// value, which makes every reduction visible. The real two-process runs are in
// tests/distributed_mpi/.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "distributed/gradient_reducer.h"

namespace electra::dist {
namespace {

class FakePeerCommunicator : public Communicator {
 public:
  FakePeerCommunicator() { info_.world = 2; }
  const ProcessInfo& info() const override { return info_; }
  std::unique_ptr<Work> all_reduce_async(const at::Tensor& t, ReduceOp op) override {
    EXPECT_EQ(op, ReduceOp::kSum);  // the reducer divides by the world size itself
    reduced_sizes.push_back(t.numel());
    return completed_work();  // mine / 2 + 0 / 2
  }
  void broadcast(const at::Tensor&, int) override { ++broadcasts; }
  void barrier() override {}
  std::vector<int64_t> all_gather(int64_t v) override { return {v, v}; }
  std::vector<double> all_gather(double v) override { return {v, v}; }
  std::vector<std::string> all_gather(const std::string& v) override { return {v, v}; }
  std::string backend() const override { return "fake"; }
  void set_timeout(double) override {}

  std::vector<int64_t> reduced_sizes;
  int broadcasts = 0;

 private:
  ProcessInfo info_;
};

using Params = std::vector<std::pair<std::string, at::Tensor>>;

// p0 [1000], p1 [300], p2 [10x10], unused [50]; loss uses p0, p1, p2 in that order.
Params make_params() {
  Params ps;
  ps.emplace_back("p0", at::full({1000}, 1.0).set_requires_grad(true));
  ps.emplace_back("p1", at::full({300}, 2.0).set_requires_grad(true));
  ps.emplace_back("p2", at::full({10, 10}, 3.0).set_requires_grad(true));
  ps.emplace_back("unused", at::full({50}, 4.0).set_requires_grad(true));
  return ps;
}

// d loss / d p_i = (i + 1) * scale everywhere. The terms are built in a fixed order (last term
// first, what gcc does with `a + b + c`; clang builds them first to last): the order in which
// autograd then reaches the parameters decides the rebuilt bucket layout the tests expect.
at::Tensor loss_of(const Params& ps, double scale) {
  const at::Tensor t2 = 3 * ps[2].second.sum();
  const at::Tensor t1 = 2 * ps[1].second.sum();
  const at::Tensor t0 = ps[0].second.sum();
  return (t0 + t1 + t2) * scale;
}

constexpr double kMiB = 1024.0 * 1024.0;

TEST(GradientReducer, BucketsFollowTheCapacityInReverseParameterOrder) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  // 1400 B capacity: unused (200 B) + p2 (400 B) fit together; p1 (1200 B) alone; p0 (4000 B)
  // alone (a parameter larger than a bucket gets its own).
  GradientReducer r(comm, ps, {1400 / kMiB, 0});
  EXPECT_EQ(r.bucket_layout(), (std::vector<std::vector<size_t>>{{3, 2}, {1}, {0}}));
  r.broadcast_parameters();
  EXPECT_EQ(comm.broadcasts, 4);
}

TEST(GradientReducer, AveragesAndLaunchesBucketsDuringBackward) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  GradientReducer r(comm, ps, {1400 / kMiB, 0});
  for (int step = 0; step < 2; ++step) {
    for (auto& [n, p] : ps)
      p.mutable_grad() = at::Tensor();
    comm.reduced_sizes.clear();
    r.prepare_backward(true);
    loss_of(ps, 1.0).backward();
    if (step == 0) {
      // The first bucket holds `unused`, which never gets a gradient: buckets go out in
      // order, so nothing is sent before finish().
      EXPECT_TRUE(comm.reduced_sizes.empty());
    } else {
      // Rebuilt in ready order, `unused` last: every other bucket went out during backward.
      EXPECT_EQ(comm.reduced_sizes.size(), r.num_buckets() - 1);
      EXPECT_EQ(r.bucket_layout().back().back(), 3u);
    }
    r.finish();
    EXPECT_EQ(comm.reduced_sizes.size(), r.num_buckets());
    EXPECT_TRUE(ps[0].second.grad().allclose(at::full({1000}, 0.5)));
    EXPECT_TRUE(ps[1].second.grad().allclose(at::full({300}, 1.0)));
    EXPECT_TRUE(ps[2].second.grad().allclose(at::full({10, 10}, 1.5)));
    // No rank had a gradient for it: it stays undefined, as in a single-process run.
    EXPECT_FALSE(ps[3].second.grad().defined());
  }
}

TEST(GradientReducer, NoTrafficBeforeTheLastMicroStepAndTheAccumulatedSumIsReduced) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  GradientReducer r(comm, ps, {25, 0});
  ASSERT_EQ(r.num_buckets(), 1u);
  r.prepare_backward(false);
  loss_of(ps, 1.0).backward();
  r.prepare_backward(false);
  loss_of(ps, 1.0).backward();
  EXPECT_TRUE(comm.reduced_sizes.empty());
  r.prepare_backward(true);
  loss_of(ps, 1.0).backward();
  r.finish();
  // One bucket: 1450 gradient elements + 4 flags.
  EXPECT_EQ(comm.reduced_sizes, (std::vector<int64_t>{1454}));
  EXPECT_TRUE(ps[0].second.grad().allclose(at::full({1000}, 1.5)));  // 3 micro-steps x 1 / 2
  EXPECT_TRUE(ps[2].second.grad().allclose(at::full({10, 10}, 4.5)));
}

TEST(GradientReducer, AParameterUsedOnlyInEarlierMicroStepsKeepsItsGradient) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  GradientReducer r(comm, ps, {25, 0});
  r.prepare_backward(false);
  (ps[3].second.sum() * 10).backward();  // only `unused`, in the first micro-step
  r.prepare_backward(true);
  loss_of(ps, 1.0).backward();
  r.finish();
  ASSERT_TRUE(ps[3].second.grad().defined());
  EXPECT_TRUE(ps[3].second.grad().allclose(at::full({50}, 5.0)));
}

TEST(GradientReducer, RebuildsBucketsInTheObservedReadyOrder) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  // One parameter per bucket (capacity below every parameter's size).
  GradientReducer r(comm, ps, {100 / kMiB, 0});
  EXPECT_EQ(r.bucket_layout(), (std::vector<std::vector<size_t>>{{3}, {2}, {1}, {0}}));
  // Backward reaches p1 first, then p0, then p2 (reverse of this forward's use order).
  auto step = [&] {
    r.prepare_backward(true);
    (ps[2].second.sum() * ps[0].second.sum() + ps[1].second.sum()).backward();
    r.finish();
  };
  step();
  const auto layout = r.bucket_layout();
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout.back(), std::vector<size_t>{3});  // never ready: last
  std::vector<size_t> firsts = {layout[0][0], layout[1][0], layout[2][0]};
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, (std::vector<size_t>{0, 1, 2}));
  // The rebuilt reducer still averages correctly.
  for (auto& [n, p] : ps)
    p.mutable_grad() = at::Tensor();
  comm.reduced_sizes.clear();
  step();
  EXPECT_EQ(comm.reduced_sizes.size(), 4u);
  EXPECT_TRUE(ps[1].second.grad().allclose(at::full({300}, 0.5)));
  EXPECT_TRUE(ps[2].second.grad().allclose(at::full({10, 10}, 500.0)));  // 1000 x 1 / 2
}

TEST(GradientReducer, GradientsKeptAcrossStepsAreNotAliasedToTheBuckets) {
  FakePeerCommunicator comm;
  auto ps = make_params();
  GradientReducer r(comm, ps, {25, 0});
  r.prepare_backward(true);
  loss_of(ps, 1.0).backward();
  r.finish();  // p0.grad = 0.5, a view into the bucket
  // No zero_grad: the next step accumulates onto the averaged gradient, as torch would.
  r.prepare_backward(true);
  loss_of(ps, 1.0).backward();
  r.finish();
  EXPECT_TRUE(ps[0].second.grad().allclose(at::full({1000}, 0.75)));    // (0.5 + 1) / 2
  EXPECT_TRUE(ps[2].second.grad().allclose(at::full({10, 10}, 2.25)));  // (1.5 + 3) / 2
}

TEST(GradientReducer, WorldSizeOneIsAPassThrough) {
  auto comm = make_single_process_communicator();
  auto ps = make_params();
  GradientReducer r(*comm, ps, {25, 1});
  EXPECT_EQ(r.num_buckets(), 0u);
  r.prepare_backward(true);
  loss_of(ps, 1.0).backward();
  r.finish();
  EXPECT_TRUE(ps[1].second.grad().allclose(at::full({300}, 2.0)));
  r.check_parameters_if_due(1);  // trivially equal
}

}  // namespace
}  // namespace electra::dist
