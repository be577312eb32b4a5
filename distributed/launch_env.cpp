#include "distributed/launch_env.h"

#include <cstdlib>
#include <string>

namespace electra::dist {
namespace {

// A non-negative integer, or -1 when unset or malformed.
int env_int(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (*end == '\0' && x >= 0 && x < (1L << 30)) ? static_cast<int>(x) : -1;
}

bool has(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  return v && *v;
}

}  // namespace

LaunchEnv detect_launch(const GetEnv& getenv) {
  LaunchEnv e;
  const int slurm_tasks = env_int(getenv, "SLURM_STEP_NUM_TASKS");
  // sbatch's own batch step sets SLURM_PROCID too but has no SLURM_STEP_NUM_TASKS; a
  // one-task srun step is an ordinary world-size-1 run.
  if (slurm_tasks > 1) {
    e.launcher = has(getenv, "PMIX_RANK")  ? "srun (PMIx)"
                 : has(getenv, "PMI_RANK") ? "srun (PMI)"
                                           : "srun";
    e.size = slurm_tasks;
    e.rank = env_int(getenv, "SLURM_PROCID");
  } else if (has(getenv, "OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "mpirun (Open MPI)";
    e.size = env_int(getenv, "OMPI_COMM_WORLD_SIZE");
    e.rank = env_int(getenv, "OMPI_COMM_WORLD_RANK");
  } else if (has(getenv, "PMI_SIZE") || has(getenv, "PMI_RANK")) {
    e.launcher = "mpiexec (PMI)";
    e.size = env_int(getenv, "PMI_SIZE");
    e.rank = env_int(getenv, "PMI_RANK");
  } else if (has(getenv, "PMIX_RANK")) {
    e.launcher = "PMIx launcher";
    e.rank = env_int(getenv, "PMIX_RANK");
  }
  if (e.size < 0) e.size = 0;
  return e;
}

LaunchEnv detect_launch() {
  return detect_launch([](const char* name) -> const char* { return std::getenv(name); });
}

}  // namespace electra::dist
