// Process-level set-up shared by the subcommands: the communicator (MPI when launched by
// mpirun/srun, otherwise world size 1), the log prefix, CPU/GPU placement, and the two ways a
// job ends (finish_job, abort_job).
#pragma once

#include <memory>

#include "distributed/communicator.h"

namespace electra::launcher {

// Creates the process group once per process (later calls return the same one): MPI when a
// launcher started this process (distributed/launch_env.h), else world size 1. Sets the
// "[rank r/w] " log prefix, splits the node's CPUs among its ranks and selects
// cuda:<local rank> when CUDA devices exist.
dist::Communicator& communicator();
// Normal end: every rank meets at a barrier, then the communicator and MPI are shut down
// (each step bounded by the collective timeout). No-op when no communicator was created.
void finish_job();
// Ends the whole job after an error on this rank: MPI_Abort under MPI, so no peer hangs.
[[noreturn]] void abort_job(int exit_code);

}  // namespace electra::launcher
