// A fake multi-rank Communicator for tests: N ranks are N threads of one process that meet in
// a shared Hub. Each collective is two barriers: every rank posts its input, then every rank
// reads all inputs. It lets data-parallel logic run with world size > 1 without MPI.
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "distributed/communicator.h"

namespace electra::testing {

class Hub {
  int world_;  // first: the slots below are sized from it

 public:
  explicit Hub(int world)
      : world_(world), tensors_(world), strings_(world), ints_(world), doubles_(world) {}
  int world() const { return world_; }

  void barrier() {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t gen = generation_;
    if (++waiting_ == world_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }

  std::vector<at::Tensor> tensors_;
  std::vector<std::string> strings_;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  int64_t collectives = 0;  // all_gather(string) calls seen by rank 0

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  int64_t generation_ = 0;
};

class ThreadedCommunicator : public dist::Communicator {
 public:
  ThreadedCommunicator(Hub& hub, int rank) : hub_(hub) {
    info_.rank = rank;
    info_.world = hub.world();
    info_.local_rank = rank;
    info_.local_size = hub.world();
  }
  const dist::ProcessInfo& info() const override { return info_; }

  // Synchronous: the work is done when this returns.
  std::unique_ptr<dist::Work> all_reduce_async(const at::Tensor& t, dist::ReduceOp op) override {
    hub_.tensors_[info_.rank] = t;
    hub_.barrier();
    at::Tensor acc = hub_.tensors_[0].clone();
    for (int r = 1; r < hub_.world(); ++r) {
      const at::Tensor& o = hub_.tensors_[r];
      if (op == dist::ReduceOp::kMax) {
        acc = at::maximum(acc, o);
      } else if (op == dist::ReduceOp::kMin) {
        acc = at::minimum(acc, o);
      } else {
        acc = acc + o;
      }
    }
    if (op == dist::ReduceOp::kAvg) acc = acc / hub_.world();
    hub_.barrier();  // everyone has read the inputs before any is overwritten
    t.copy_(acc);
    return dist::completed_work();
  }
  void broadcast(const at::Tensor& t, int root) override {
    hub_.tensors_[info_.rank] = t;
    hub_.barrier();
    at::Tensor src = hub_.tensors_[root].clone();
    hub_.barrier();
    t.copy_(src);
  }
  void barrier() override { hub_.barrier(); }
  std::vector<int64_t> all_gather(int64_t v) override { return gather(hub_.ints_, v); }
  std::vector<double> all_gather(double v) override { return gather(hub_.doubles_, v); }
  std::vector<std::string> all_gather(const std::string& v) override {
    if (info_.rank == 0) ++hub_.collectives;
    return gather(hub_.strings_, v);
  }
  std::string backend() const override { return "threads"; }
  void set_timeout(double) override {}  // threads of one test cannot die separately

 private:
  template <class T>
  std::vector<T> gather(std::vector<T>& slots, const T& v) {
    slots[info_.rank] = v;
    hub_.barrier();
    std::vector<T> out = slots;
    hub_.barrier();
    return out;
  }
  Hub& hub_;
  dist::ProcessInfo info_;
};

}  // namespace electra::testing
