// Which communicator a process uses. Chosen by the environment variable ELECTRA_BACKEND
// (read before any configuration, since the process group exists before the experiment is
// loaded):
//   auto    (default) started by a launcher: NCCL when this build has it and the process
//           sees a CUDA device, else MPI; started alone: world size 1 ("single")
//   single  world size 1, every collective the identity; refused under a launcher that
//           started several processes
//   mpi     MPI, CPU tensors
//   nccl    NCCL for CUDA tensors; MPI bootstraps it under a launcher, and a process started
//           alone is a one-rank NCCL group (no MPI needed, e.g. in a build without MPI)
// CPU tensors travel through MPI under either launcher backend (the NCCL communicator hands
// them to its host group), so a CPU run on a GPU node works with "auto" too; "mpi" only skips
// creating the NCCL group.
#pragma once

#include <memory>
#include <string>

#include "distributed/communicator.h"
#include "distributed/launch_env.h"
#include "distributed/mpi_communicator.h"

namespace electra::dist {

enum class Backend { kAuto, kSingle, kMpi, kNccl };

const char* backend_name(Backend b);
// `where` names the source of `name` for the error message (e.g. "ELECTRA_BACKEND").
Backend parse_backend(const std::string& name, const std::string& where);
// ELECTRA_BACKEND, kAuto when unset or empty.
Backend backend_from_env();

// True when built with -DELECTRA_WITH_NCCL=ON.
bool nccl_compiled();

// The resolved choice (never kAuto): `cuda_devices` is the number of CUDA devices this
// process sees. UserError when the choice cannot work here (NCCL not built or no device;
// MPI not built under a launcher; "single" under a launcher of several processes).
Backend resolve_backend(Backend requested, const LaunchEnv& env, int cuda_devices);

// Creates the communicator for `backend` (resolved as above). NCCL uses CUDA device
// local_rank % cuda_devices.
std::unique_ptr<Communicator> make_communicator(Backend backend, const LaunchEnv& env,
                                                const MpiOptions& mpi, int cuda_devices);

}  // namespace electra::dist
