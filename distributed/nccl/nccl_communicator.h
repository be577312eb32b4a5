// The NCCL communicator: collectives on CUDA tensors. NCCL needs a bootstrap: rank 0 makes the
// ncclUniqueId and the host communicator (MPI) broadcasts it; barrier, the small all_gathers
// of host values and collectives on CPU tensors (step flags, bucket orders, checksums) also
// go through the host communicator. With a world-size-1 host (make_single_process_communicator)
// it is a one-rank NCCL group that needs no MPI at all (distributed/backend.h: a process
// started alone with ELECTRA_BACKEND=nccl).
//
// Streams: NCCL kernels run on the communicator's own CUDA stream. Each collective first
// waits (cudaStreamWaitEvent) for an event recorded on the caller's current (compute) stream,
// so it sees the tensor as computed; Work::wait() makes the compute stream wait for the
// collective's completion event. Neither blocks the host, so a bucket's all-reduce overlaps
// the rest of backward. A watchdog thread polls the completion events and NCCL's async error
// state; a collective older than the timeout, or an NCCL error, aborts the NCCL communicator
// and the job (ncclCommAbort, then MPI_Abort) with a message naming the collective and rank.
//
// Built only with -DELECTRA_WITH_NCCL=ON (a CUDA LibTorch, the CUDA runtime and NCCL).
#pragma once

#include <memory>

#include "distributed/communicator.h"

namespace electra::dist {

// `host`: the process group (MPI, or world size 1) that bootstraps NCCL and carries the
// host-side collectives.
// `device`: the CUDA device of this rank (normally the local rank).
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> host, int device,
                                                     double timeout_s);

}  // namespace electra::dist
