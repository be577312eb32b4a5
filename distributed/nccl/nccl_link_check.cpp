// Part of the NCCL compile check in CPU-only builds (see CMakeLists.txt): links the NCCL
// communicator against libnccl and libcudart and creates one. Without a GPU the creation
// must fail with the check macro's message (call, rank, file:line); with a GPU it must
// succeed. Prints the outcome; exit status 0 in both cases, 1 on an unexpected failure.
#include <cstdio>
#include <exception>

#include "distributed/nccl/nccl_communicator.h"

int main() {
  using namespace electra::dist;
  try {
    auto comm = make_nccl_communicator(make_single_process_communicator(), 0, 30.0);
    std::printf("created an NCCL communicator (backend %s, world %d)\n", comm->backend().c_str(),
                comm->world_size());
    return 0;
  } catch (const std::exception& e) {
    std::printf("%s\n", e.what());
    return 0;
  }
}
