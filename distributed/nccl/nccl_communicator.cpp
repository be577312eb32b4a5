// NCCL communicator (see nccl_communicator.h). The tensor side (LibTorch's current CUDA
// stream, the caching allocator) is compiled when ELECTRA_TORCH_CUDA is 1: always in real
// NCCL builds; a CPU-only LibTorch build compiles this file for the compile check with the
// stand-ins below and cannot run it.
#include "distributed/nccl/nccl_communicator.h"

#include <ATen/ATen.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "distributed/mpi_communicator.h"
#include "distributed/nccl/cuda_check.h"
#include "distributed/watchdog.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "the NCCL communicator needs NCCL >= 2.10 (ncclAvg, ncclBfloat16)"
#endif

#if ELECTRA_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace electra::dist {
namespace detail {

void cuda_failed(cudaError_t rc, const char* call, int rank, const char* file, int line) {
  throw std::runtime_error(cat("CUDA call ", call, " failed on rank ", rank, " at ", file, ":",
                               line, ": ", cudaGetErrorName(rc), " (", cudaGetErrorString(rc),
                               ")"));
}

void nccl_failed(ncclResult_t rc, ncclComm_t comm, const char* call, int rank, const char* file,
                 int line) {
  std::string last;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  if (const char* m = ncclGetLastError(comm)) last = cat("; ", m);
#endif
  throw std::runtime_error(cat("NCCL call ", call, " failed on rank ", rank, " at ", file, ":",
                               line, ": ", ncclGetErrorString(rc), last,
                               ". Set NCCL_DEBUG=INFO for details"));
}

}  // namespace detail

namespace {

// The stream LibTorch queues this thread's kernels on for `device`.
cudaStream_t compute_stream(int device) {
#if ELECTRA_TORCH_CUDA
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
#else
  (void)device;
  return cudaStreamLegacy;
#endif
}

// Tells the caching allocator that `t`'s memory is in use on `stream`, so it is not handed
// to another tensor before the collective on that stream is done.
void record_stream(const at::Tensor& t, cudaStream_t stream, int device) {
#if ELECTRA_TORCH_CUDA
  c10::cuda::CUDACachingAllocator::recordStream(
      t.storage().data_ptr(),
      c10::cuda::getStreamFromExternal(stream, static_cast<c10::DeviceIndex>(device)));
#else
  (void)t, (void)stream, (void)device;
#endif
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kInt:
      return ncclInt32;
    case at::kLong:
      return ncclInt64;
    case at::kChar:
      return ncclInt8;
    case at::kByte:
      return ncclUint8;
    default:
      throw std::runtime_error(
          cat("the NCCL communicator cannot reduce ", c10::toString(t), " tensors"));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

// One collective in flight: the event marking its end on the NCCL stream. Shared by its Work
// and the watchdog; the event lives as long as either holds it.
struct Pending {
  cudaEvent_t event = nullptr;
  std::string what;
  std::chrono::steady_clock::time_point deadline;
  Pending() = default;
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  ~Pending() {
    if (event) cudaEventDestroy(event);
  }
};

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<Pending> p, int device, int rank)
      : p_(std::move(p)), device_(device), rank_(rank) {}
  void wait() override {
    // Stream-ordered: later work on the compute stream sees the result; the host goes on.
    ELECTRA_CUDA_CHECK(rank_, cudaStreamWaitEvent(compute_stream(device_), p_->event, 0));
  }
  bool done() override {
    const cudaError_t rc = cudaEventQuery(p_->event);
    if (rc == cudaErrorNotReady) return false;
    ELECTRA_CUDA_CHECK(rank_, rc);
    return true;
  }

 private:
  std::shared_ptr<Pending> p_;
  int device_, rank_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> host, int device, double timeout_s)
      : host_(std::move(host)), device_(device), timeout_s_(timeout_s) {
    info_ = host_->info();
    const int rank = info_.rank;
    ELECTRA_CUDA_CHECK(rank, cudaSetDevice(device_));
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (rank == 0) ELECTRA_NCCL_CHECK(rank, nullptr, ncclGetUniqueId(&id));
    at::Tensor bytes = at::empty({static_cast<int64_t>(sizeof id)}, at::kByte);
    std::memcpy(bytes.data_ptr(), &id, sizeof id);
    host_->broadcast(bytes, 0);
    std::memcpy(&id, bytes.data_ptr(), sizeof id);
    {
      // Blocks until every rank has joined: bounded like any collective.
      Watchdog guard("ncclCommInitRank", timeout_s_, exit_on_hang);
      ELECTRA_NCCL_CHECK(rank, nullptr, ncclCommInitRank(&comm_, info_.world, id, rank));
    }
    ELECTRA_CUDA_CHECK(rank, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
    pending_.clear();
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  const ProcessInfo& info() const override { return info_; }
  std::string backend() const override { return "nccl"; }
  void set_timeout(double seconds) override {
    host_->set_timeout(seconds);
    std::lock_guard<std::mutex> lock(mu_);
    timeout_s_ = seconds;
  }

  std::unique_ptr<Work> all_reduce_async(const at::Tensor& t, ReduceOp op) override {
    if (t.defined() && t.is_cpu()) return host_->all_reduce_async(t, op);  // small host values
    ELECTRA_CHECK(t.defined() && t.is_cuda() && t.is_contiguous(),
                  "the NCCL communicator "
                  "reduces contiguous CUDA (or CPU) tensors only");
    const ncclDataType_t type = nccl_type(t.scalar_type());
    auto p = launch(cat("all_reduce(", reduce_op_name(op), ", ", t.numel(), " x ",
                        c10::toString(t.scalar_type()), ")"),
                    t, [&](cudaStream_t s) {
                      ELECTRA_NCCL_CHECK(
                          info_.rank, comm_,
                          ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                                        type, nccl_op(op), comm_, s));
                    });
    return std::make_unique<NcclWork>(p, device_, info_.rank);
  }

  void broadcast(const at::Tensor& t, int root) override {
    if (t.defined() && t.is_cpu()) return host_->broadcast(t, root);
    ELECTRA_CHECK(t.defined() && t.is_cuda() && t.is_contiguous(),
                  "the NCCL communicator "
                  "broadcasts contiguous CUDA (or CPU) tensors only");
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    auto p = launch(cat("broadcast(", t.numel(), " x ", c10::toString(t.scalar_type()), ")"), t,
                    [&](cudaStream_t s) {
                      ELECTRA_NCCL_CHECK(info_.rank, comm_,
                                         ncclBroadcast(t.data_ptr(), t.data_ptr(), bytes, ncclUint8,
                                                       root, comm_, s));
                    });
    NcclWork(p, device_, info_.rank).wait();
  }

  void barrier() override {
    // Our NCCL work first, so that "after the barrier" includes it; then the host barrier.
    ELECTRA_CUDA_CHECK(info_.rank, cudaStreamSynchronize(stream_));
    host_->barrier();
  }
  std::vector<int64_t> all_gather(int64_t v) override { return host_->all_gather(v); }
  std::vector<double> all_gather(double v) override { return host_->all_gather(v); }
  std::vector<std::string> all_gather(const std::string& v) override {
    return host_->all_gather(v);
  }

 private:
  template <class Enqueue>
  std::shared_ptr<Pending> launch(std::string what, const at::Tensor& t, Enqueue enqueue) {
    const int rank = info_.rank;
    cudaStream_t compute = compute_stream(device_);
    cudaEvent_t ready = nullptr;
    ELECTRA_CUDA_CHECK(rank, cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    ELECTRA_CUDA_CHECK(rank, cudaEventRecord(ready, compute));
    ELECTRA_CUDA_CHECK(rank, cudaStreamWaitEvent(stream_, ready, 0));
    ELECTRA_CUDA_CHECK(rank, cudaEventDestroy(ready));  // released once recorded work is done
    record_stream(t, stream_, device_);
    enqueue(stream_);
    auto p = std::make_shared<Pending>();
    p->what = std::move(what);
    ELECTRA_CUDA_CHECK(rank, cudaEventCreateWithFlags(&p->event, cudaEventDisableTiming));
    ELECTRA_CUDA_CHECK(rank, cudaEventRecord(p->event, stream_));
    std::lock_guard<std::mutex> lock(mu_);
    p->deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(timeout_s_));
    pending_.push_back(p);
    return p;
  }

  // Polls the collectives in flight; ends the job on an NCCL error or a timeout.
  void watch() {
    // The watchdog cannot throw (nobody would catch it): a failure here is only reported.
    if (const cudaError_t rc = cudaSetDevice(device_); rc != cudaSuccess)
      log::warn("NCCL watchdog: cudaSetDevice(", device_, ") failed on rank ", info_.rank, ": ",
                cudaGetErrorString(rc));
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_; })) {
      std::string failure;
      for (auto it = pending_.begin(); it != pending_.end();) {
        const cudaError_t rc = cudaEventQuery((*it)->event);
        if (rc == cudaSuccess) {
          it = pending_.erase(it);
          continue;
        }
        if (rc != cudaErrorNotReady)
          failure = cat((*it)->what, ": ", cudaGetErrorString(rc));
        else if (std::chrono::steady_clock::now() > (*it)->deadline)
          failure = cat((*it)->what, " did not complete within ", timeout_s_,
                        " s (dist.timeout_s): another rank died, hangs, or is much slower");
        if (!failure.empty()) break;
        ++it;
      }
      ncclResult_t async = ncclSuccess;
      if (failure.empty() && ncclCommGetAsyncError(comm_, &async) == ncclSuccess &&
          async != ncclSuccess)
        failure = cat("NCCL reported an asynchronous error: ", ncclGetErrorString(async));
      if (!failure.empty()) {
        log::error("NCCL collective failed on rank ", info_.rank, "/", info_.world, ": ", failure,
                   ". Ending the job");
        ncclCommAbort(comm_);
        mpi_abort(1);
        std::_Exit(1);  // not launched through MPI
      }
    }
  }

  std::unique_ptr<Communicator> host_;
  ProcessInfo info_;
  int device_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::list<std::shared_ptr<Pending>> pending_;
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> host, int device,
                                                     double timeout_s) {
  ELECTRA_CHECK(host != nullptr, "make_nccl_communicator without a host communicator");
  return std::make_unique<NcclCommunicator>(std::move(host), device, timeout_s);
}

}  // namespace electra::dist
