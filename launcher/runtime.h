// Process-level set-up shared by the subcommands: the communicator (MPI when launched by
// mpirun/srun, otherwise world size 1), the log prefix, signal handlers, thread settings.
#pragma once

#include <memory>

#include "distributed/communicator.h"

namespace electra::launcher {

// Creates the process group once per process (later calls return the same one).
dist::Communicator& communicator();
// Ends the whole job after an error on this rank: MPI_Abort under MPI, so no peer hangs.
[[noreturn]] void abort_job(int exit_code);

}  // namespace electra::launcher
