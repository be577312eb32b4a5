// Which communicator a process gets (distributed/backend.h), without creating MPI or NCCL
// groups: those need a launcher or a GPU (tests/distributed_mpi, tests/distributed_nccl).
#include "distributed/backend.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace electra::dist {
namespace {

LaunchEnv launched(int size) {
  LaunchEnv e;
  e.launcher = "mpirun (Open MPI)";
  e.size = size;
  e.rank = 0;
  return e;
}

TEST(Backend, ParsesTheFourNamesAndRefusesOthersNamingTheSource) {
  EXPECT_EQ(parse_backend("auto", "x"), Backend::kAuto);
  EXPECT_EQ(parse_backend("single", "x"), Backend::kSingle);
  EXPECT_EQ(parse_backend("mpi", "x"), Backend::kMpi);
  EXPECT_EQ(parse_backend("nccl", "x"), Backend::kNccl);
  try {
    parse_backend("gloo", "ELECTRA_BACKEND");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("ELECTRA_BACKEND: unknown communication backend 'gloo'"),
              std::string::npos)
        << e.what();
  }
}

TEST(Backend, AutoIsSingleAloneAndMpiOrNcclUnderALauncher) {
  EXPECT_EQ(resolve_backend(Backend::kAuto, LaunchEnv{}, 0), Backend::kSingle);
  EXPECT_EQ(resolve_backend(Backend::kAuto, LaunchEnv{}, 8), Backend::kSingle);
  EXPECT_EQ(resolve_backend(Backend::kAuto, launched(2), 0), Backend::kMpi);
  EXPECT_EQ(resolve_backend(Backend::kAuto, launched(2), 1),
            nccl_compiled() ? Backend::kNccl : Backend::kMpi);
  EXPECT_EQ(make_communicator(Backend::kAuto, LaunchEnv{}, MpiOptions{}, 0)->backend(), "single");
}

TEST(Backend, RefusesChoicesThatCannotWorkHere) {
  EXPECT_THROW(resolve_backend(Backend::kSingle, launched(2), 0), UserError);
  EXPECT_EQ(resolve_backend(Backend::kSingle, launched(1), 0), Backend::kSingle);
  // No device: NCCL is refused whether or not it was built.
  EXPECT_THROW(resolve_backend(Backend::kNccl, LaunchEnv{}, 0), UserError);
  if (!nccl_compiled()) {
    EXPECT_THROW(resolve_backend(Backend::kNccl, LaunchEnv{}, 1), UserError);
  }
  if (mpi_compiled()) {
    EXPECT_EQ(resolve_backend(Backend::kMpi, launched(2), 0), Backend::kMpi);
  } else {
    EXPECT_THROW(resolve_backend(Backend::kMpi, launched(2), 0), UserError);
  }
}

}  // namespace
}  // namespace electra::dist
