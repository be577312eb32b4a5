// GradientReducer between processes (ctest runs 2; any number works): averages across buckets,
// parameters used by one rank only, identical parameters after training steps, and the parameter
// check's message.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "distributed/gradient_reducer.h"
#include "tests/distributed_mpi/world.h"

namespace electra::dist {
namespace {

using mpi_test::world;
using Params = std::vector<std::pair<std::string, at::Tensor>>;
constexpr double kMiB = 1024.0 * 1024.0;

Params uneven_params() {
  Params ps;
  int i = 0;
  for (int64_t n : {1, 999, 17, 4096, 3, 250}) {
    ps.emplace_back("p" + std::to_string(i++), at::zeros({n}).set_requires_grad(true));
  }
  ps.emplace_back("rank1_only", at::zeros({5}).set_requires_grad(true));
  ps.emplace_back("nobody", at::zeros({8}).set_requires_grad(true));
  return ps;
}

// The average of (rank + 1) over the ranks.
double mean_factor() {
  return (world().world_size() + 1) / 2.0;
}

// d loss / d p_i[j] = (rank + 1) * (i + 1) * (j % 5 + 1)
at::Tensor rank_loss(const Params& ps, int rank) {
  at::Tensor loss = at::zeros({});
  for (size_t i = 0; i < 6; ++i) {
    const at::Tensor& p = ps[i].second;
    const at::Tensor w = (at::arange(p.numel()).remainder(5) + 1) * double(i + 1) * (rank + 1);
    loss = loss + (p * w).sum();
  }
  if (rank == 1) loss = loss + 7 * ps[6].second.sum();
  return loss;
}

TEST(GradientReducerMpi, AveragesOverRanksAcrossSeveralBuckets) {
  ELECTRA_NEED_TWO_RANKS();
  Params ps = uneven_params();
  GradientReducer r(world(), ps, {2000 / kMiB, 0});  // 2000 B: several buckets
  ASSERT_GE(r.num_buckets(), 4u);
  for (int step = 0; step < 2; ++step) {  // the second step uses the rebuilt buckets
    for (auto& [n, p] : ps)
      p.mutable_grad() = at::Tensor();
    r.prepare_backward(true);
    rank_loss(ps, world().rank()).backward();
    r.finish();
    for (size_t i = 0; i < 6; ++i) {
      const at::Tensor& p = ps[i].second;
      // the average over ranks of (r + 1) is (world + 1) / 2
      const at::Tensor expect =
          (at::arange(p.numel()).remainder(5) + 1) * double(i + 1) * mean_factor();
      EXPECT_TRUE(p.grad().allclose(expect.to(at::kFloat))) << ps[i].first << " step " << step;
    }
    ASSERT_TRUE(ps[6].second.grad().defined());  // rank 0 contributes zeros
    EXPECT_TRUE(ps[6].second.grad().allclose(at::full({5}, 7.0 / world().world_size())));
    EXPECT_FALSE(ps[7].second.grad().defined());  // no rank had a gradient
  }
}

TEST(GradientReducerMpi, GradientAccumulationReducesOnlyTheSum) {
  ELECTRA_NEED_TWO_RANKS();
  Params ps = uneven_params();
  GradientReducer r(world(), ps, {25, 0});
  for (int micro = 0; micro < 3; ++micro) {
    r.prepare_backward(micro == 2);
    rank_loss(ps, world().rank()).backward();
  }
  r.finish();
  const at::Tensor expect = (at::arange(999).remainder(5) + 1) * 2.0 * mean_factor() * 3;
  EXPECT_TRUE(ps[1].second.grad().allclose(expect.to(at::kFloat)));
}

// A two-layer network trained for a few SGD steps on rank-specific data.
TEST(GradientReducerMpi, ParametersStayIdenticalAcrossRanks) {
  ELECTRA_NEED_TWO_RANKS();
  at::manual_seed(100 + world().rank());  // different init per rank: the broadcast fixes it
  Params ps = {{"layer.0.weight", at::randn({16, 8}).set_requires_grad(true)},
               {"layer.0.bias", at::randn({16}).set_requires_grad(true)},
               {"layer.1.weight", at::randn({1, 16}).set_requires_grad(true)}};
  GradientReducer r(world(), ps, {0.0005, 1});
  r.broadcast_parameters(0);
  const at::Tensor before = ps[2].second.detach().clone();
  for (int step = 1; step <= 5; ++step) {
    const at::Tensor x = at::randn({32, 8});  // rank-specific batch
    r.prepare_backward(true);
    at::Tensor h = at::relu(at::matmul(x, ps[0].second.t()) + ps[1].second);
    at::matmul(h, ps[2].second.t()).pow(2).mean().backward();
    r.finish();
    {
      torch::NoGradGuard g;
      for (auto& [n, p] : ps) {
        p.sub_(p.grad() * 0.1);
        p.mutable_grad() = at::Tensor();
      }
    }
    r.check_parameters_if_due(step);  // throws if any parameter differs
  }
  EXPECT_FALSE(ps[2].second.equal(before));  // it trained
  const auto crcs = world().all_gather(std::to_string(ps[0].second.sum().item<double>()));
  EXPECT_EQ(crcs[0], crcs[1]);
}

TEST(GradientReducerMpi, ParameterCheckNamesTheFirstDifferingParameter) {
  ELECTRA_NEED_TWO_RANKS();
  Params ps = {{"encoder.layer.0.weight", at::ones({4})},
               {"encoder.layer.1.weight", at::ones({4})},
               {"encoder.layer.2.weight", at::ones({4})}};
  check_parameters_match(world(), ps, "at start");  // equal: no error
  if (world().rank() == 1) {
    ps[1].second[2] = 1.0001;
    ps[2].second[0] = 5;
  }
  try {
    check_parameters_match(world(), ps, "after step 7");
    FAIL() << "the difference went unnoticed on rank " << world().rank();
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("after step 7"), std::string::npos) << m;
    EXPECT_NE(m.find("'encoder.layer.1.weight' on rank 1"), std::string::npos) << m;
    EXPECT_NE(m.find("2 of 3 parameters"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace electra::dist
