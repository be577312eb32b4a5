// Who am I, and the collectives the trainer needs. Nothing here knows about ELECTRA.
//
// Implementations: single-process (world size 1, for tests and plain runs), MPI (CPU
// tensors) and NCCL (CUDA tensors, unique id broadcast over MPI). The trainer only ever sees
// this interface, so a run without a launcher is simply world size 1.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace electra::dist {

struct ProcessInfo {
  int rank = 0;
  int world = 1;
  int local_rank = 0;  // rank among the processes of this node
  int local_size = 1;
};

enum class ReduceOp { kSum, kAvg, kMax, kMin };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const ProcessInfo& info() const = 0;
  int rank() const { return info().rank; }
  int world_size() const { return info().world; }

  // In place; kAvg divides by the world size.
  virtual void all_reduce(at::Tensor& tensor, ReduceOp op) = 0;
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;
  // Small values: every rank receives every rank's value, indexed by rank.
  virtual std::vector<int64_t> all_gather(int64_t value) = 0;
  virtual std::vector<double> all_gather(double value) = 0;
  virtual std::vector<std::string> all_gather(const std::string& value) = 0;
  virtual std::string backend() const = 0;  // "single", "mpi", "nccl"
};

std::unique_ptr<Communicator> make_single_process_communicator();

}  // namespace electra::dist
