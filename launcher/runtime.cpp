#include "launcher/runtime.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "distributed/backend.h"
#include "distributed/launch_env.h"
#include "distributed/mpi_communicator.h"

namespace electra::launcher {
namespace {

// Start-up and shutdown are bounded by this until the experiment sets dist.timeout_s.
constexpr double kDefaultTimeoutS = 600;

std::unique_ptr<dist::Communicator>& holder() {
  static std::unique_ptr<dist::Communicator> c;
  return c;
}

// One process per GPU: local rank r uses cuda:r (modulo the visible devices, so that a
// launcher that already gives each rank one GPU through CUDA_VISIBLE_DEVICES works too).
// Compiled everywhere, active only when LibTorch has CUDA and sees a device.
void select_cuda_device(const dist::ProcessInfo& who) {
  if (!torch::cuda::is_available()) return;
  const int n = static_cast<int>(torch::cuda::device_count());
  const int device = who.local_rank % n;
  if (who.local_size > n)
    log::warn(who.local_size, " ranks on this node but ", n,
              " visible CUDA device(s): ranks "
              "share GPUs (NCCL refuses that). Start one rank per GPU");
  c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)
      ->setDevice(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device)));
  log::debug("using cuda:", device);
}

}  // namespace

dist::Communicator& communicator() {
  auto& c = holder();
  if (c) return *c;
  const dist::LaunchEnv env = dist::detect_launch();
  dist::MpiOptions o;
  o.timeout_s = kDefaultTimeoutS;
  // ELECTRA_CPU_BIND=0 leaves the CPU affinity alone (e.g. when another job shares the node
  // and the launcher's own binding is not wanted either).
  const char* bind = std::getenv("ELECTRA_CPU_BIND");
  o.bind_cpus = !(bind && std::strcmp(bind, "0") == 0);
  // MPI under a launcher (NCCL on top when this process sees a GPU), else world size 1;
  // ELECTRA_BACKEND overrides (distributed/backend.h).
  const int cuda_devices =
      torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  c = dist::make_communicator(dist::backend_from_env(), env, o, cuda_devices);
  const dist::ProcessInfo& who = c->info();
  if (who.world > 1) {
    log::set_prefix(cat("[rank ", who.rank, "/", who.world, "] "));
    log::set_quiet(who.rank != 0);  // rank 0 reports; every rank still prints warnings/errors
    log::info("distributed: ", who.world, " ranks started by ", env.launcher, ", ", who.local_size,
              " on this node, ", who.cores, " core(s) per rank, backend ", c->backend());
  }
  select_cuda_device(who);
  return *c;
}

void finish_job() {
  auto& c = holder();
  if (!c) return;
  if (c->world_size() > 1) c->barrier();  // everyone is done before MPI goes away
  c.reset();
  dist::mpi_finalize(kDefaultTimeoutS);
}

void abort_job(int exit_code) {
  std::fflush(stderr);
  std::fflush(stdout);
  dist::mpi_abort(exit_code);  // does not return under MPI
  std::exit(exit_code);
}

}  // namespace electra::launcher
