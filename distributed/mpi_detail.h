// Internal to distributed/: MPI headers, the check macro and the communicator constructor.
#pragma once

#include <ATen/Tensor.h>
#include <mpi.h>

#include <memory>
#include <vector>

#include "distributed/mpi_communicator.h"

// Every MPI call goes through this: on failure it throws with the call, the rank (-1 before
// it is known) and file:line, plus MPI's own error string. Our communicators use
// MPI_ERRORS_RETURN so that failures reach this check instead of aborting silently.
#define ELECTRA_MPI_CHECK(rank, call)                                                          \
  do {                                                                                         \
    const int electra_mpi_rc_ = (call);                                                        \
    if (electra_mpi_rc_ != MPI_SUCCESS)                                                        \
      ::electra::dist::detail::mpi_failed(electra_mpi_rc_, #call, (rank), __FILE__, __LINE__); \
  } while (0)

namespace electra::dist::detail {

[[noreturn]] void mpi_failed(int rc, const char* call, int rank, const char* file, int line);

// Ring all-reduce over point-to-point messages: reduce-scatter, then all-gather. Each rank
// sends and receives 2 (n - 1) / n of the buffer (the minimum any algorithm needs) and folds
// the incoming segments in with vectorised ATen kernels. Used for large buffers because Open
// MPI 4.1's MPI_Iallreduce (libnbc) moves them several times slower (measured here between
// two processes: 56 MB in 300 ms, vs 180 ms for the blocking MPI_Allreduce). Driven like the
// other ops: start() posts the first step, test() polls and posts the following ones.
class RingAllReduce {
 public:
  // `buf`: flat, contiguous, of the MPI type `type`; reduced in place.
  RingAllReduce(MPI_Comm comm, int rank, int world, at::Tensor buf, MPI_Datatype type, ReduceOp op,
                int64_t max_count);
  void start();
  bool test();  // non-blocking; true once every step is done

 private:
  at::Tensor segment(int i) const;
  void post(int send_seg, int recv_seg, bool into_temp);
  void post_step();

  MPI_Comm comm_;
  int rank_, world_;
  at::Tensor buf_;
  MPI_Datatype type_;
  ReduceOp op_;
  int64_t max_count_;
  std::vector<int64_t> offsets_, lengths_;  // of the world_ segments
  at::Tensor incoming_;                     // a received segment during reduce-scatter
  std::vector<MPI_Request> reqs_;
  int step_ = 0;
  bool gathering_ = false;
  bool done_ = false;
};

// Takes ownership of `comm` (freed by the communicator's destructor).
std::unique_ptr<Communicator> make_mpi_comm_wrapper(MPI_Comm comm, const ProcessInfo& info,
                                                    const MpiOptions& options);

}  // namespace electra::dist::detail
