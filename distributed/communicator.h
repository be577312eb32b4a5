// Who am I, and the collectives the trainer needs. Nothing here knows about ELECTRA.
//
// Implementations: single-process (world size 1, for tests and plain runs), MPI (CPU
// tensors, mpi_communicator.h) and NCCL (CUDA tensors, unique id broadcast over MPI,
// nccl/nccl_communicator.h). The trainer only ever sees this interface, so a run without a
// launcher is simply world size 1.
//
// Ordering: every rank must issue the same collectives in the same order (as in MPI). The
// implementations execute them in issue order, so an asynchronous all-reduce started before a
// barrier completes before it.
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
  int cores = 0;  // CPU cores this rank may use for compute threads (0: unknown)
};

enum class ReduceOp { kSum, kAvg, kMax, kMin };
const char* reduce_op_name(ReduceOp op);

// A collective in flight. wait() returns once the result is in the tensor (for device
// collectives: once work queued afterwards on the compute stream will see it) and rethrows
// the collective's error, if any.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool done() = 0;  // non-blocking
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const ProcessInfo& info() const = 0;
  int rank() const { return info().rank; }
  int world_size() const { return info().world; }

  // In place; kAvg divides by the world size. The tensor must stay alive and untouched until
  // the work completes (the Work keeps a reference, not a copy).
  virtual std::unique_ptr<Work> all_reduce_async(const at::Tensor& tensor, ReduceOp op) = 0;
  void all_reduce(const at::Tensor& tensor, ReduceOp op) { all_reduce_async(tensor, op)->wait(); }
  virtual void broadcast(const at::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;
  // Small values: every rank receives every rank's value, indexed by rank.
  virtual std::vector<int64_t> all_gather(int64_t value) = 0;
  virtual std::vector<double> all_gather(double value) = 0;
  virtual std::vector<std::string> all_gather(const std::string& value) = 0;
  virtual std::string backend() const = 0;  // "single", "mpi", "nccl"

  // A collective that does not complete within this time means a peer died or hangs: the
  // implementation reports it (naming the collective and the rank) and ends the job.
  virtual void set_timeout(double seconds) = 0;
};

std::unique_ptr<Communicator> make_single_process_communicator();

// A Work that is already complete (for world size 1 and for tests).
std::unique_ptr<Work> completed_work();

}  // namespace electra::dist
