// World size 1: every collective is the identity (kAvg divides by 1).
#include "distributed/communicator.h"
#include "distributed/cpu_binding.h"

namespace electra::dist {
namespace {

class CompletedWork : public Work {
 public:
  void wait() override {}
  bool done() override { return true; }
};

class SingleProcessCommunicator : public Communicator {
 public:
  SingleProcessCommunicator() { info_.cores = static_cast<int>(allowed_cpus().size()); }
  const ProcessInfo& info() const override { return info_; }
  std::unique_ptr<Work> all_reduce_async(const at::Tensor&, ReduceOp) override {
    return completed_work();
  }
  void broadcast(const at::Tensor&, int) override {}
  void barrier() override {}
  std::vector<int64_t> all_gather(int64_t v) override { return {v}; }
  std::vector<double> all_gather(double v) override { return {v}; }
  std::vector<std::string> all_gather(const std::string& v) override { return {v}; }
  std::string backend() const override { return "single"; }
  void set_timeout(double) override {}

 private:
  ProcessInfo info_;
};

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
  }
  return "?";
}

std::unique_ptr<Work> completed_work() {
  return std::make_unique<CompletedWork>();
}

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace electra::dist
