// MPI start-up and shutdown: initialisation, who am I (rank, world, local rank via
// MPI_Comm_split_type), CPU binding of the local ranks, finalisation and abort.
#include "common/error.h"
#include "common/log.h"
#include "distributed/cpu_binding.h"
#include "distributed/mpi_communicator.h"
#include "distributed/watchdog.h"

#if ELECTRA_HAVE_MPI
#include "distributed/mpi_detail.h"
#endif

namespace electra::dist {

#if ELECTRA_HAVE_MPI

namespace {

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
  }
  return "unknown";
}

// Splits the CPUs among the ranks of this node that share one affinity mask (none of them was
// bound by the launcher), so that their compute threads do not compete for cores. Sets
// info->cores.
void place_local_ranks(MPI_Comm comm, ProcessInfo* info, bool bind) {
  MPI_Comm node = MPI_COMM_NULL;
  ELECTRA_MPI_CHECK(info->rank, MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, info->rank,
                                                    MPI_INFO_NULL, &node));
  ELECTRA_MPI_CHECK(info->rank, MPI_Comm_rank(node, &info->local_rank));
  ELECTRA_MPI_CHECK(info->rank, MPI_Comm_size(node, &info->local_size));

  const std::vector<int> mine = allowed_cpus();
  constexpr int kMaskBytes = CPU_SETSIZE / 8;
  std::vector<uint8_t> mask(kMaskBytes, 0), all(static_cast<size_t>(kMaskBytes) * info->local_size);
  for (int c : mine)
    mask[static_cast<size_t>(c / 8)] |= static_cast<uint8_t>(1u << (c % 8));
  ELECTRA_MPI_CHECK(info->rank, MPI_Allgather(mask.data(), kMaskBytes, MPI_BYTE, all.data(),
                                              kMaskBytes, MPI_BYTE, node));
  MPI_Comm_free(&node);
  int index = 0, count = 0;  // my position among the local ranks with my mask, and their number
  for (int r = 0; r < info->local_size; ++r) {
    if (std::equal(mask.begin(), mask.end(),
                   all.begin() + static_cast<ptrdiff_t>(r) * kMaskBytes)) {
      if (r < info->local_rank) ++index;
      ++count;
    }
  }
  info->cores = std::max(1, static_cast<int>(mine.size()) / count);
  if (count > 1 && bind) {
    const std::vector<int> share = cpu_share(mine, index, count);
    if (bind_process(share)) {
      info->cores = static_cast<int>(share.size());
      log::debug("bound to CPUs ", cpu_list_string(share), " (", count, " local ranks shared CPUs ",
                 cpu_list_string(mine), ")");
    }
  }
}

}  // namespace

bool mpi_compiled() {
  return true;
}

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchEnv& env, const MpiOptions& opts) {
  int initialized = 0;
  ELECTRA_MPI_CHECK(-1, MPI_Initialized(&initialized));
  if (!initialized) {
    // MPI_Init_thread waits for every process of the job: bounded, so a peer that never
    // starts cannot hang this one.
    Watchdog guard("MPI initialisation (MPI_Init_thread)", opts.timeout_s, exit_on_hang);
    int provided = MPI_THREAD_SINGLE;
    ELECTRA_MPI_CHECK(-1, MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    if (provided < MPI_THREAD_SERIALIZED)
      throw std::runtime_error(
          cat("the MPI library provides only ", thread_level_name(provided),
              "; electra needs MPI_THREAD_SERIALIZED (its collectives run on a communication "
              "thread). Use an MPI built with thread support (Open MPI >= 3 and MPICH are)"));
  }
  ELECTRA_MPI_CHECK(-1, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  ProcessInfo info;
  ELECTRA_MPI_CHECK(-1, MPI_Comm_rank(MPI_COMM_WORLD, &info.rank));
  ELECTRA_MPI_CHECK(info.rank, MPI_Comm_size(MPI_COMM_WORLD, &info.world));
  if (env.size > 0 && env.size != info.world)
    throw_user(env.launcher, " started ", env.size, " processes, but MPI reports a world of ",
               info.world,
               ": this electra binary is linked against a different MPI library "
               "than the launcher (each process then runs alone and they would all write the "
               "same output). Launch with the mpirun of the MPI electra was built with (see "
               "`ldd electra | grep mpi`), or give srun the --mpi plugin that MPI expects "
               "(pmix or pmi2)");
  MPI_Comm comm = MPI_COMM_NULL;
  ELECTRA_MPI_CHECK(info.rank, MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  ELECTRA_MPI_CHECK(info.rank, MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  place_local_ranks(comm, &info, opts.bind_cpus);
  return detail::make_mpi_comm_wrapper(comm, info, opts);
}

void mpi_finalize(double timeout_s) {
  if (!mpi_active()) return;
  // MPI_Finalize synchronises with the other processes: bounded like any collective.
  Watchdog guard("MPI_Finalize", timeout_s, exit_on_hang);
  MPI_Finalize();
}

void mpi_abort(int code) {
  if (mpi_active()) MPI_Abort(MPI_COMM_WORLD, code);
}

#else  // built without MPI

bool mpi_compiled() {
  return false;
}

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchEnv& env, const MpiOptions&) {
  throw_user("this electra was built without MPI (-DELECTRA_WITH_MPI=OFF) but was started by ",
             env.launcher,
             ". Rebuild with -DELECTRA_WITH_MPI=ON (needs libopenmpi-dev) or run "
             "it without a launcher");
}

void mpi_finalize(double) {}
void mpi_abort(int) {}

#endif

}  // namespace electra::dist
