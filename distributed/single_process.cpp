// World size 1: every collective is the identity (kAvg divides by 1).
#include "distributed/communicator.h"

namespace electra::dist {
namespace {

class SingleProcessCommunicator : public Communicator {
 public:
  const ProcessInfo& info() const override { return info_; }
  void all_reduce(at::Tensor&, ReduceOp) override {}
  void broadcast(at::Tensor&, int) override {}
  void barrier() override {}
  std::vector<int64_t> all_gather(int64_t v) override { return {v}; }
  std::vector<double> all_gather(double v) override { return {v}; }
  std::vector<std::string> all_gather(const std::string& v) override { return {v}; }
  std::string backend() const override { return "single"; }

 private:
  ProcessInfo info_;
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace electra::dist
