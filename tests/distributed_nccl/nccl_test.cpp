// The NCCL communicator on a GPU machine (built only with ELECTRA_WITH_NCCL): one process,
// world size 1, checks the CUDA-tensor paths (stream ordering, async work, broadcast, dtype
// checks) that a CPU-only build can compile but not run. Multi-GPU runs use the same code
// under mpirun with one rank per GPU.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "distributed/nccl/nccl_communicator.h"

namespace electra::dist {
namespace {

std::unique_ptr<Communicator> make() {
  return make_nccl_communicator(make_single_process_communicator(), 0, 60);
}

TEST(NcclCommunicator, ReducesAndBroadcastsCudaTensors) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto c = make();
  EXPECT_EQ(c->backend(), "nccl");
  const auto cuda = at::TensorOptions().device(at::kCUDA, 0);
  for (auto dt : {at::kFloat, at::kBFloat16, at::kHalf}) {
    at::Tensor t = at::arange(100003, cuda.dtype(at::kFloat)).to(dt);
    const at::Tensor expected = t.clone();
    c->all_reduce(t, ReduceOp::kAvg);  // world 1: unchanged
    EXPECT_TRUE(t.equal(expected)) << dt;
  }
  // Async: work queued on the compute stream after wait() sees the result.
  std::vector<at::Tensor> ts;
  std::vector<std::unique_ptr<Work>> works;
  for (int k = 0; k < 8; ++k) {
    ts.push_back(at::full({1 << 20}, double(k), cuda));
    works.push_back(c->all_reduce_async(ts.back(), ReduceOp::kSum));
  }
  for (int k = 0; k < 8; ++k) {
    works[static_cast<size_t>(k)]->wait();
    EXPECT_EQ(ts[static_cast<size_t>(k)].sum().item<double>(), double(k) * (1 << 20));
  }
  at::Tensor b = at::arange(10, cuda.dtype(at::kLong));
  c->broadcast(b, 0);
  EXPECT_EQ(b.sum().item<int64_t>(), 45);
  c->barrier();
  EXPECT_EQ(c->all_gather(int64_t{5}), std::vector<int64_t>{5});
  at::Tensor cpu = at::ones({4});
  EXPECT_THROW(c->all_reduce_async(cpu, ReduceOp::kSum), std::runtime_error);
}

}  // namespace
}  // namespace electra::dist
