// The MPI process group: CPU tensors, every collective polled with a deadline on one
// communication thread (collective_queue.h). srun --mpi=pmix / pmi2 and mpirun reach it the
// same way: MPI_Init_thread finds its launcher itself.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>

#include "distributed/communicator.h"
#include "distributed/launch_env.h"

namespace electra::dist {

struct MpiOptions {
  double timeout_s = 600;        // collective timeout until set_timeout (covers start-up)
  bool bind_cpus = true;         // split an affinity mask shared by several local ranks
  bool abort_on_failure = true;  // a failed or timed-out collective ends the job (MPI_Abort)
  int64_t max_count = INT_MAX;   // elements per MPI call; tests pass a small value
  // All-reduces of at least this many bytes run as a ring over point-to-point messages
  // (mpi_detail.h), smaller ones as MPI_Iallreduce (fewer steps, lower latency).
  int64_t ring_min_bytes = 256 << 10;
};

// False when built with -DELECTRA_WITH_MPI=OFF.
bool mpi_compiled();

// Initialises MPI once per process (MPI_THREAD_MULTIPLE requested, MPI_THREAD_SERIALIZED
// required: all collectives run on the communication thread, MULTIPLE only makes MPI_Abort
// from another thread legal), checks that MPI sees the world `env` announced, binds the
// local ranks' CPUs, and returns a communicator over a duplicate of MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_communicator(const LaunchEnv& env,
                                                    const MpiOptions& options = {});

// MPI_Finalize, bounded by `timeout_s` (after every MPI communicator is destroyed). No-op
// when MPI was never initialised.
void mpi_finalize(double timeout_s);
// MPI_Abort(MPI_COMM_WORLD, code) when MPI is initialised; returns otherwise.
void mpi_abort(int code);

}  // namespace electra::dist
