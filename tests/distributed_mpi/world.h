// The process group of the MPI test binary (run as `mpirun -np 2 test_distributed_mpi`).
#pragma once

#include "distributed/communicator.h"

namespace electra::dist::mpi_test {

Communicator& world();
// Skips the calling test unless at least two ranks run it.
#define ELECTRA_NEED_TWO_RANKS()                             \
  do {                                                       \
    if (::electra::dist::mpi_test::world().world_size() < 2) \
      GTEST_SKIP() << "run under mpirun -np 2 (ctest does)"; \
  } while (0)

}  // namespace electra::dist::mpi_test
