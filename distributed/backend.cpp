#include "distributed/backend.h"

#include <cstdlib>

#include "common/error.h"

#if ELECTRA_WITH_NCCL
#include "distributed/nccl/nccl_communicator.h"
#endif

namespace electra::dist {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::kAuto:
      return "auto";
    case Backend::kSingle:
      return "single";
    case Backend::kMpi:
      return "mpi";
    case Backend::kNccl:
      return "nccl";
  }
  return "?";
}

Backend parse_backend(const std::string& name, const std::string& where) {
  for (Backend b : {Backend::kAuto, Backend::kSingle, Backend::kMpi, Backend::kNccl})
    if (name == backend_name(b)) return b;
  throw_user(where, ": unknown communication backend '", name,
             "'. Use one of auto, single, mpi, nccl");
}

Backend backend_from_env() {
  const char* v = std::getenv("ELECTRA_BACKEND");
  return (v && *v) ? parse_backend(v, "ELECTRA_BACKEND") : Backend::kAuto;
}

bool nccl_compiled() {
#if ELECTRA_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Backend resolve_backend(Backend requested, const LaunchEnv& env, int cuda_devices) {
  const bool many = env.launched() && env.size != 1;
  switch (requested) {
    case Backend::kAuto:
      if (!env.launched()) return Backend::kSingle;
      return nccl_compiled() && cuda_devices > 0 ? Backend::kNccl : Backend::kMpi;
    case Backend::kSingle:
      ELECTRA_CHECK_USER(!many, "ELECTRA_BACKEND=single, but ", env.launcher, " started ",
                         env.size > 0 ? std::to_string(env.size) : std::string("several"),
                         " processes: every one would train alone. Unset ELECTRA_BACKEND or "
                         "start one process");
      return Backend::kSingle;
    case Backend::kMpi:
      ELECTRA_CHECK_USER(mpi_compiled(),
                         "ELECTRA_BACKEND=mpi, but this electra was built without MPI "
                         "(-DELECTRA_WITH_MPI=OFF). Rebuild with -DELECTRA_WITH_MPI=ON or "
                         "unset ELECTRA_BACKEND");
      return Backend::kMpi;
    case Backend::kNccl:
      ELECTRA_CHECK_USER(nccl_compiled(),
                         "ELECTRA_BACKEND=nccl, but this electra was built without NCCL. "
                         "Rebuild against a CUDA LibTorch with -DELECTRA_WITH_NCCL=ON (see "
                         "README, GPUs) or unset ELECTRA_BACKEND");
      ELECTRA_CHECK_USER(cuda_devices > 0,
                         "ELECTRA_BACKEND=nccl, but this process sees no CUDA device. Check "
                         "CUDA_VISIBLE_DEVICES and nvidia-smi, or use ELECTRA_BACKEND=mpi");
      return Backend::kNccl;
  }
  return Backend::kSingle;
}

std::unique_ptr<Communicator> make_communicator(Backend backend, const LaunchEnv& env,
                                                const MpiOptions& mpi, int cuda_devices) {
  switch (resolve_backend(backend, env, cuda_devices)) {
    case Backend::kMpi:
      return make_mpi_communicator(env, mpi);
    case Backend::kNccl: {
#if ELECTRA_WITH_NCCL
      // The host group: MPI under a launcher, else world size 1 (NCCL then needs no MPI).
      std::unique_ptr<Communicator> host =
          env.launched() ? make_mpi_communicator(env, mpi) : make_single_process_communicator();
      const int device = host->info().local_rank % cuda_devices;
      return make_nccl_communicator(std::move(host), device, mpi.timeout_s);
#else
      break;  // resolve_backend refused it
#endif
    }
    case Backend::kAuto:
    case Backend::kSingle:
      break;
  }
  return make_single_process_communicator();
}

}  // namespace electra::dist
