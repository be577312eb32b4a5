// Internal to distributed/: MPI headers, the check macro and the communicator constructor.
#pragma once

#include <mpi.h>

#include <memory>

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

// Takes ownership of `comm` (freed by the communicator's destructor).
std::unique_ptr<Communicator> make_mpi_comm_wrapper(MPI_Comm comm, const ProcessInfo& info,
                                                    const MpiOptions& options);

}  // namespace electra::dist::detail
