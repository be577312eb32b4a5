// main() of the MPI tests: every rank runs every test; collectives inside a test pair up
// across ranks. A failure on any rank makes that rank exit non-zero, and so mpirun.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "distributed/launch_env.h"
#include "distributed/mpi_communicator.h"
#include "tests/distributed_mpi/world.h"

namespace electra::dist::mpi_test {
namespace {
std::unique_ptr<Communicator> g_world;
}
Communicator& world() {
  return *g_world;
}
}  // namespace electra::dist::mpi_test

int main(int argc, char** argv) {
  using namespace electra::dist;
  at::set_num_threads(1);
  MpiOptions o;
  o.timeout_s = 60;  // a rank stuck in a test ends the job instead of hanging ctest
  mpi_test::g_world = make_mpi_communicator(detect_launch(), o);
  // One full report (rank 0's); other ranks print only their failures. Set before
  // InitGoogleTest, which picks the printer.
  if (mpi_test::g_world->rank() != 0) GTEST_FLAG_SET(brief, true);
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  mpi_test::g_world.reset();
  mpi_finalize(60);
  return rc;
}
