// Was this process started by a parallel launcher, and by which one? Read from the
// environment the launchers set, before (and instead of) initialising MPI.
//
// Why not always call MPI_Init: in a plain `electra ...` run it would make a singleton MPI
// job, which with Open MPI costs start-up time, may start helper daemons and prints
// network warnings on machines without an interconnect (or fails in containers). Every
// launcher users run us under announces itself in the environment:
//   mpirun/mpiexec of Open MPI         OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_RANK
//   MPICH/Intel MPI (Hydra), PMI-1/2   PMI_SIZE, PMI_RANK
//   PMIx launchers (Open MPI 5 prterun) PMIX_RANK
//   srun (any --mpi plugin)            SLURM_STEP_NUM_TASKS, SLURM_PROCID (+ PMIX_RANK or PMI_RANK)
// so world size 1 needs no MPI at all, and the trainer needs no special case for it.
#pragma once

#include <functional>
#include <string>

namespace electra::dist {

struct LaunchEnv {
  std::string launcher;  // "" when not launched; else e.g. "mpirun (Open MPI)", "srun (PMIx)"
  int size = 0;          // processes the launcher says it started (0: it does not say)
  int rank = -1;         // this process's rank according to the launcher (-1: not said)
  bool launched() const { return !launcher.empty(); }
};

using GetEnv = std::function<const char*(const char*)>;
// `getenv` is a parameter so tests can pass a fake environment.
LaunchEnv detect_launch(const GetEnv& getenv);
LaunchEnv detect_launch();

}  // namespace electra::dist
