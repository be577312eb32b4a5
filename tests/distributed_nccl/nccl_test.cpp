// The NCCL communicator on a GPU machine (built only with ELECTRA_WITH_NCCL): one process,
// world size 1, no MPI (make_single_process_communicator bootstraps it, as
// ELECTRA_BACKEND=nccl does for a process started alone). Checks the CUDA-tensor paths
// (stream ordering, async work, broadcast, dtypes, CPU tensors through the host group) that
// a CPU-only build can compile but not run, and the gradient reducer over NCCL. Multi-GPU runs
// use the same code under mpirun with one rank per GPU. Every test skips without a device.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "distributed/backend.h"
#include "distributed/gradient_reducer.h"
#include "distributed/nccl/nccl_communicator.h"

namespace electra::dist {
namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

std::unique_ptr<Communicator> make() {
  return make_nccl_communicator(make_single_process_communicator(), 0, 60);
}

at::TensorOptions cuda() {
  return at::TensorOptions().device(at::kCUDA, 0);
}

TEST(NcclCommunicator, SumAverageMaxMinOfKnownValues) {
  SKIP_WITHOUT_CUDA();
  auto c = make();
  EXPECT_EQ(c->backend(), "nccl");
  EXPECT_EQ(c->world_size(), 1);
  // 1001 elements (not a multiple of any vector width): a wrong count or type would leave the
  // tail or scramble the bytes.
  const at::Tensor base = at::arange(1001, at::kDouble).mul_(0.25).sub_(100.0);  // CPU
  for (auto dt : {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf, at::kLong, at::kInt}) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
      if (op == ReduceOp::kAvg && (dt == at::kLong || dt == at::kInt)) continue;
      const at::Tensor expected = base.to(dt);  // world 1: every reduction is the identity
      at::Tensor t = expected.to(cuda());
      c->all_reduce(t, op);
      EXPECT_TRUE(t.cpu().equal(expected)) << dt << " " << reduce_op_name(op);
    }
  }
}

TEST(NcclCommunicator, AsyncWorkIsOrderedBeforeLaterComputeStreamWork) {
  SKIP_WITHOUT_CUDA();
  auto c = make();
  std::vector<at::Tensor> ts;
  std::vector<std::unique_ptr<Work>> works;
  for (int k = 0; k < 8; ++k) {
    ts.push_back(at::full({1 << 20}, double(k), cuda()));
    works.push_back(c->all_reduce_async(ts.back(), ReduceOp::kSum));
  }
  for (int k = 0; k < 8; ++k) {
    works[static_cast<size_t>(k)]->wait();
    // Queued on the compute stream after wait(): sees the reduced values.
    ts[static_cast<size_t>(k)].mul_(2);
    EXPECT_EQ(ts[static_cast<size_t>(k)].sum().item<double>(), 2.0 * k * (1 << 20));
  }
  for (auto& w : works) {
    torch::cuda::synchronize();
    EXPECT_TRUE(w->done());
  }
}

TEST(NcclCommunicator, BroadcastsCudaAndCpuTensors) {
  SKIP_WITHOUT_CUDA();
  auto c = make();
  at::Tensor b = at::arange(10, cuda().dtype(at::kLong));
  c->broadcast(b, 0);
  EXPECT_EQ(b.sum().item<int64_t>(), 45);
  // CPU tensors (flags, bucket orders, checksums) go through the host group.
  at::Tensor h = at::tensor({3.0, 4.0}, at::kDouble);
  c->broadcast(h, 0);
  c->all_reduce(h, ReduceOp::kSum);
  EXPECT_TRUE(h.equal(at::tensor({3.0, 4.0}, at::kDouble)));
  c->barrier();
  EXPECT_EQ(c->all_gather(int64_t{5}), std::vector<int64_t>{5});
  EXPECT_EQ(c->all_gather(std::string("x")), std::vector<std::string>{"x"});
  // Not contiguous: refused with a message, not reduced wrongly.
  at::Tensor strided = at::zeros({4, 4}, cuda()).t();
  EXPECT_THROW(c->all_reduce_async(strided, ReduceOp::kSum), std::runtime_error);
}

TEST(NcclCommunicator, BackendSelectionMakesAOneRankNcclGroupWithoutMpi) {
  SKIP_WITHOUT_CUDA();
  const int devices = static_cast<int>(torch::cuda::device_count());
  auto c = make_communicator(Backend::kNccl, LaunchEnv{}, MpiOptions{}, devices);
  EXPECT_EQ(c->backend(), "nccl");
  at::Tensor t = at::full({3}, 7.0, cuda());
  c->all_reduce(t, ReduceOp::kAvg);
  EXPECT_TRUE(t.cpu().equal(at::full({3}, 7.0)));
  // Started alone, "auto" stays world size 1 without collectives.
  EXPECT_EQ(make_communicator(Backend::kAuto, LaunchEnv{}, MpiOptions{}, devices)->backend(),
            "single");
}

// Presents a one-rank communicator as rank 0 of two whose peer contributes zeros: the reducer
// then really reduces (world size 1 would make it a pass-through), pre-scaling by 1/2, so each
// averaged gradient is half the local one. Collectives go to the wrapped (NCCL) communicator.
class TwoRankView : public Communicator {
 public:
  explicit TwoRankView(Communicator& inner) : inner_(inner) { info_.world = 2; }
  const ProcessInfo& info() const override { return info_; }
  std::unique_ptr<Work> all_reduce_async(const at::Tensor& t, ReduceOp op) override {
    ++reduces;
    return inner_.all_reduce_async(t, op);
  }
  void broadcast(const at::Tensor& t, int root) override { inner_.broadcast(t, root); }
  void barrier() override { inner_.barrier(); }
  std::vector<int64_t> all_gather(int64_t v) override { return {v, v}; }
  std::vector<double> all_gather(double v) override { return {v, v}; }
  std::vector<std::string> all_gather(const std::string& v) override { return {v, v}; }
  std::string backend() const override { return inner_.backend(); }
  void set_timeout(double s) override { inner_.set_timeout(s); }
  int reduces = 0;

 private:
  Communicator& inner_;
  ProcessInfo info_;
};

TEST(NcclCommunicator, GradientReducerAveragesCudaGradientsOverNccl) {
  SKIP_WITHOUT_CUDA();
  auto nccl = make();
  TwoRankView comm(*nccl);
  using Params = std::vector<std::pair<std::string, at::Tensor>>;
  Params ps;
  ps.emplace_back("p0", at::full({1000}, 1.0, cuda()).set_requires_grad(true));
  ps.emplace_back("p1", at::full({300}, 2.0, cuda()).set_requires_grad(true));
  ps.emplace_back("p2", at::full({10, 10}, 3.0, cuda()).set_requires_grad(true));
  ps.emplace_back("unused", at::full({50}, 4.0, cuda()).set_requires_grad(true));
  // 1400 B buckets: {unused, p2}, {p1}, {p0} at first; rebuilt after the first step (the
  // ready order travels as a CPU tensor through the host group).
  GradientReducer r(comm, ps, {1400.0 / (1024 * 1024), 0});
  ASSERT_EQ(r.num_buckets(), 3u);
  r.broadcast_parameters();
  for (int step = 0; step < 3; ++step) {
    for (auto& [n, p] : ps)
      p.mutable_grad() = at::Tensor();
    comm.reduces = 0;
    const size_t buckets = r.num_buckets();  // finish() of the first step rebuilds them
    // Two micro-steps: the first accumulates locally (no traffic), the second is reduced.
    for (int micro = 0; micro < 2; ++micro) {
      r.prepare_backward(micro == 1);
      const at::Tensor t2 = 3 * ps[2].second.sum();
      const at::Tensor t1 = 2 * ps[1].second.sum();
      const at::Tensor t0 = ps[0].second.sum();
      (t0 + t1 + t2).backward();
      if (micro == 0) {
        EXPECT_EQ(comm.reduces, 0);
      }
    }
    r.finish();
    EXPECT_EQ(comm.reduces, static_cast<int>(buckets)) << "step " << step;  // each bucket once
    // d/dp_i = (i + 1) per micro-step, two micro-steps, halved by the two-rank average.
    EXPECT_TRUE(ps[0].second.grad().cpu().equal(at::full({1000}, 1.0))) << "step " << step;
    EXPECT_TRUE(ps[1].second.grad().cpu().equal(at::full({300}, 2.0))) << "step " << step;
    EXPECT_TRUE(ps[2].second.grad().cpu().equal(at::full({10, 10}, 3.0))) << "step " << step;
    EXPECT_TRUE(ps[0].second.grad().is_cuda());
    EXPECT_FALSE(ps[3].second.grad().defined());  // no rank had a gradient for it
  }
  EXPECT_EQ(r.bucket_layout().back().back(), 3u);  // rebuilt: `unused` (never ready) last
}

}  // namespace
}  // namespace electra::dist
